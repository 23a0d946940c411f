"""The boot request's arguments: everything a worker needs to start its session."""

from __future__ import annotations

import enum
import urllib.parse
from typing import Final, NotRequired, TypedDict


class ChromeLean(enum.StrEnum):
    """The named Chrome optimisations of ``[chrome] lean`` (worker.browser.flags turns each
    into Chrome flags; the README's table gives each one's measured effect)."""

    IN_PROCESS_GPU = "in-process-gpu"  # the GPU thread in the browser process
    NETWORK_SERVICE_IN_PROCESS = "network-service-in-process"  # no network utility process
    NO_ZYGOTE = "no-zygote"  # no zygotes: only where Chrome runs without its sandbox
    OPTIMIZE_FOR_SIZE = "optimize-for-size"  # V8 trades some speed for a smaller heap
    NO_SERVER_FEATURES = "no-server-features"  # features a server never uses, disabled


#: ``[chrome] lean`` by default: what held on the WhatsApp simulator's page (bench_chrome_flags).
CHROME_LEAN_DEFAULT: Final[tuple[str, ...]] = tuple(lean.value for lean in (
    ChromeLean.IN_PROCESS_GPU,
    ChromeLean.NETWORK_SERVICE_IN_PROCESS,
    ChromeLean.NO_ZYGOTE,
    ChromeLean.OPTIMIZE_FOR_SIZE,
    ChromeLean.NO_SERVER_FEATURES,
))


class WhatsAppSpec(TypedDict):
    """How the WhatsApp driver follows its page (the supervisor's ``[whatsapp]`` config)."""

    driver: str  # "whatsapp", or "basic": open the URL and report WORKING (no WhatsApp)
    ready_timeout_s: float
    qr_timeout_s: float
    qr_max_refreshes: int
    pairing_code_interval_s: float
    takeover_on_conflict: bool
    send_timeout_s: float
    ignore_groups: bool
    ignore_status: bool
    ignore_newsletters: bool
    commands: list[str]
    command_prefix: str


class ProxyScheme(enum.StrEnum):
    """The proxy kinds a session may use (``socks5h`` is ``socks5``: Chrome always lets a SOCKS5
    proxy resolve names)."""

    HTTP = "http"
    HTTPS = "https"  # TLS to the proxy itself
    SOCKS5 = "socks5"
    SOCKS5H = "socks5h"


class ProxySpec(TypedDict):
    """A session's proxy, in parts (the supervisor parsed and checked its URL)."""

    scheme: str  # a ProxyScheme
    host: str  # a name, an IPv4 address, or an IPv6 address without brackets
    port: int
    username: str  # "" = no credentials
    password: str


#: What stands for a password wherever a proxy is shown (API, logs, events, errors).
PASSWORD_MASK: Final = "***"


def proxy_display(proxy: ProxySpec) -> str:
    """``proxy`` as a URL with its password masked: ``http://user:***@host:3128``. The one way
    a proxy is ever shown, by either side."""
    host = f"[{proxy['host']}]" if ":" in proxy["host"] else proxy["host"]
    user = urllib.parse.quote(proxy["username"], safe="")
    credentials = f"{user}:{PASSWORD_MASK}@" if proxy["username"] else ""
    return f"{proxy['scheme']}://{credentials}{host}:{proxy['port']}"


class LeaseArgs(TypedDict):
    """OP_LEASE's arguments (and BootSpec's ``lease_until_monotonic``): the worker may run
    Chrome until ``until_monotonic``; if no later lease has arrived by then, it kills Chrome's
    whole tree at once and exits EXIT_FENCED (ExitKind.FENCED). A cluster node holds such a
    lease for its sessions; a worker without one (a single host) runs as long as it is let.

    An absolute time on CLOCK_MONOTONIC (``time.monotonic()``), not a duration, because:

    - it is one clock for both sides: the worker is always on its supervisor's host (it is
      forked by the supervisor or its zygote and talks over a socketpair), and on Linux
      CLOCK_MONOTONIC is system-wide, the same for every process of a time namespace (nothing
      puts a worker in a namespace of its own); it never jumps with the wall clock;
    - a duration would start when the frame is read, so the time the frame spent in the
      socket (a busy worker loop, a full buffer) would be added to the lease. With an absolute
      time the worker's deadline is exactly the one the supervisor computed from its own lease
      (e.g. the moment before its Redis lease write + what is left of it), however late the
      frame arrives: a late frame can only shorten the lease.

    The newest lease replaces the previous one (it may also shorten it); a lease whose time
    has passed is refused, even before the worker noticed: a lapsed lease is never revived.
    """

    until_monotonic: float


class BootSpec(TypedDict):
    """Everything a worker needs to start its session, sent as the args of ``boot``."""

    session_id: str
    profile_dir: str
    tmp_dir: str
    url: str
    chrome_executable: str  # "" = find one
    chrome_headless: bool
    chrome_extra_args: list[str]
    chrome_user_agent: str  # "" = Chrome's own
    chrome_lean: list[str]  # ChromeLean names; [] = Chrome's own process model
    chrome_js_heap_max_mb: int  # V8's --max-old-space-size; 0 = V8's own
    launch_timeout_s: float
    page_timeout_s: float
    heartbeat_interval_s: float
    probe_interval_s: float  # CDP probes (their latest results ride on the heartbeats)
    close_timeout_s: float
    whatsapp: NotRequired[WhatsAppSpec]  # absent: the basic driver
    proxy: NotRequired[ProxySpec]  # absent: Chrome connects directly
    lease_until_monotonic: NotRequired[float]  # LeaseArgs' time, from boot on; absent: no lease
