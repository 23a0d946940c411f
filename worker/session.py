"""One session's Chrome from start to end: boot (profile, Chrome, CDP attach, first page) and
the ordered close (CDP ``Browser.close``, then the signal ladder)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker import protocol
from worker.browser import cdp, proctree, profile
from worker.browser.chrome import Chrome, LaunchOptions
from worker.browser.executable import find_executable
from worker.errors import ChromeLaunchFailed
from worker.logs import get_logger
from worker.proxying import SessionProxy

_BROWSER_CLOSE_ACK_S = 2.0
_TERM_GRACE_S = 1.0

log = get_logger()


@dataclass(frozen=True)
class Session:
    """A booted session: its Chrome, the CDP connection and the page the driver works in."""

    spec: protocol.BootSpec
    chrome: Chrome
    browser: cdp.Browser
    page: cdp.Page
    browser_version: str
    proxy: SessionProxy | None = None  # its proxy, if it has one (closed after Chrome)

    def boot_result(self) -> dict[str, Any]:
        """The result of the ``boot`` reply."""
        return {
            "chrome_pid": self.chrome.pid,
            "browser_version": self.browser_version,
            "executable": str(self.chrome.executable),
        }


async def boot_session(
    spec: protocol.BootSpec,
    on_spawned: Callable[[Chrome], None],
    on_disconnected: Callable[[], None],
    on_page_crash: Callable[[], None],
) -> Session:
    """Start Chrome for ``spec`` and attach to it; raises a BootFailure subclass on failure.

    ``on_spawned`` gets the Chrome as soon as its process exists, so that a failure or a stop
    during the rest of the boot still closes it.
    """
    markers = proctree.markers_from_env()
    executable = find_executable(spec["chrome_executable"], spec["chrome_headless"])
    await asyncio.to_thread(profile.prepare, spec["profile_dir"], spec["tmp_dir"], markers)
    proxy = SessionProxy(spec["proxy"]) if "proxy" in spec else None
    try:
        return await _launch(spec, executable, proxy, on_spawned, on_disconnected, on_page_crash)
    except BaseException:
        if proxy is not None:
            await proxy.close()
        raise


async def _launch(spec: protocol.BootSpec, executable: Path, proxy: SessionProxy | None,
                  on_spawned: Callable[[Chrome], None], on_disconnected: Callable[[], None],
                  on_page_crash: Callable[[], None]) -> Session:
    # The session's proxy comes after the user's extra_args: Chrome keeps a switch's last value.
    try:
        proxy_args = await proxy.start() if proxy is not None else []
    except OSError as exc:  # no loopback port for the relay: a restart may find one
        raise ChromeLaunchFailed(f"cannot start the proxy's local relay: {exc}") from None
    options = LaunchOptions(
        executable=executable,
        profile_dir=spec["profile_dir"],
        tmp_dir=spec["tmp_dir"],
        headless=spec["chrome_headless"],
        user_agent=spec["chrome_user_agent"],
        extra_args=(*spec["chrome_extra_args"], *proxy_args),
        lean=tuple(spec["chrome_lean"]),
        js_heap_max_mb=spec["chrome_js_heap_max_mb"],
    )
    chrome = Chrome.spawn(options)  # here, in the main thread (death signal)
    on_spawned(chrome)
    timeout = spec["launch_timeout_s"]
    try:
        browser = await cdp.connect(chrome.take_devtools_fds(), timeout, on_disconnected)
        page = await asyncio.wait_for(
            cdp.first_page(browser, lambda error: _on_page_crash(error, on_page_crash)), timeout
        )
        version = await asyncio.wait_for(browser.version(), timeout)
        if proxy is not None:
            await proxy.attach(browser, timeout)
    except Exception as exc:
        raise await chrome.attach_failure(exc, timeout) from None
    log.info("chrome.attached", chrome_pid=chrome.pid, browser_version=version)
    return Session(spec, chrome, browser, page, version, proxy)


def _on_page_crash(error: Exception, then: Callable[[], None]) -> None:
    # The worker reloads the page (a navigation gives the tab a new renderer).
    log.error("page.crashed", error=str(error))
    then()


async def close_chrome(session: Session | None, chrome: Chrome | None, close_timeout_s: float,
                       hurry: asyncio.Event) -> None:
    """Make sure the session's Chrome is gone, within about ``close_timeout_s``.

    ``chrome`` is set as soon as Chrome was spawned, ``session`` once it was attached. An
    attached, live Chrome is asked to close over CDP first, so it flushes the profile (the
    WhatsApp login) to disk; ``hurry`` (a second stop signal) skips that wait.
    """
    deadline = time.monotonic() + close_timeout_s
    asked_to_close = False
    if session is not None and session.chrome.returncode is None and not hurry.is_set():
        await cdp.request_close(session.browser, min(_BROWSER_CLOSE_ACK_S, close_timeout_s))
        asked_to_close = True
    if chrome is not None:
        # Without Browser.close (stopped mid-boot) Chrome will not exit by itself: SIGTERM now.
        graceful = max(0.0, deadline - time.monotonic()) if asked_to_close else 0.0
        await chrome.close(graceful, _TERM_GRACE_S, hurry=hurry)
    if session is not None:
        await cdp.disconnect(session.browser, 1.0)
        if session.proxy is not None:
            await session.proxy.close()
