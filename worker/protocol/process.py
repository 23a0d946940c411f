"""The processes' side of the contract: exit codes, environment markers, names, the zygote's
messages and the exit kinds."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

# Worker exit codes. 3 mirrors gunicorn's WORKER_BOOT_ERROR: a restart will not help.
EXIT_OK: Final = 0
EXIT_CRASH: Final = 1
EXIT_BOOT_FAILURE: Final = 3
#: Fenced: the supervisor's lease (OP_LEASE) lapsed, so the worker killed its Chrome at once and
#: exited (ExitKind.FENCED). The session may be running on another node by now: never restart it
#: blindly. The code alone says it, for when EV_EXITING cannot reach a frozen supervisor.
EXIT_FENCED: Final = 4

#: The marker every worker and Chrome carries in its environment: which install (state dir)
#: and which session it belongs to. The supervisor's orphan sweep and the worker's "profile in
#: use" check both read them.
STATE_DIR_ENV: Final = "ZAPVISOR_STATE_DIR"
SESSION_ENV: Final = "ZAPVISOR_SESSION"
#: All a worker, the zygote or Chrome inherits of its parent's environment (with LC_*; a windowed
#: Chrome also the display's): no ZAPVISOR_* secrets, no NOTIFY_SOCKET, nothing else (child_env).
CHILD_ENV: Final = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", STATE_DIR_ENV, SESSION_ENV})
DISPLAY_ENV: Final = frozenset({"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR"})

#: A worker's process name (prctl PR_SET_NAME): ps, the orphan sweep and the tests tell a
#: worker from the zygote that forked it by this name.
WORKER_PROCESS_NAME: Final = "zapvisor-worker"

#: The zygote: ``python -m ZYGOTE_MODULE --fd N --parent PID``. It talks over a SOCK_SEQPACKET
#: socketpair, one JSON object per packet (at most ZYGOTE_MAX_MESSAGE_BYTES), fds as SCM_RIGHTS.
ZYGOTE_MODULE: Final = "worker.zygote"
ZYGOTE_MAX_MESSAGE_BYTES: Final = 64 * 1024

#: ``python -m WHICH_CHROME_MODULE EXECUTABLE true|false`` prints the Chrome binary a session
#: would run for ``[chrome] executable`` and ``headless``, as one JSON object: ``{"path"}`` (exit
#: 0) or ``{"error"}`` (exit 1). ``zapvisor doctor`` asks it, as the supervisor never imports
#: the worker's browser layer.
WHICH_CHROME_MODULE: Final = "worker.browser.which"


class ZygoteOp(enum.StrEnum):
    """The ``op`` of a zygote message.

    SPAWN    supervisor -> zygote  {"id", "session", "env"} + the worker's socket fd
    SPAWNED  zygote -> supervisor  {"id", "pid"} + a pidfd of the new worker
    FAILED   zygote -> supervisor  {"id", "error"}: no worker was forked
    EXITED   zygote -> supervisor  {"pid", "returncode"}: a worker ended (reaped by the zygote)
    """

    SPAWN = "spawn"
    SPAWNED = "spawned"
    FAILED = "failed"
    EXITED = "exited"


class ExitKind(enum.StrEnum):
    """Why a worker exits, as a fixed code (EV_EXITING ``kind``) beside the free ``reason``
    text: metrics and restart decisions read the code, people read the text."""

    STOP = "stop"  # asked to stop: signal, OP_STOP, the supervisor went away
    BOOT_FAILURE = "boot_failure"  # the boot failed; its exit code says whether a restart may help
    CDP_UNRESPONSIVE = "cdp_unresponsive"  # Chrome stopped answering CDP
    PAGE_UNRESPONSIVE = "page_unresponsive"  # the page's renderer hung
    CHROME_EXITED = "chrome_exited"  # Chrome died or the CDP connection dropped
    DRIVER_FAILED = "driver_failed"  # the page driver crashed (1) or gave up (EXIT_BOOT_FAILURE)
    CRASHED = "crashed"  # anything else (a bug, a protocol error)
    FENCED = "fenced"  # the lease lapsed: Chrome killed, exit EXIT_FENCED (not a crash)


def child_env(source: Mapping[str, str], display: bool = False) -> dict[str, str]:
    """What of ``source`` a child may inherit: CHILD_ENV, LC_*, and DISPLAY_ENV if ``display``."""
    return {k: v for k, v in source.items()
            if k in CHILD_ENV or k.startswith("LC_") or (display and k in DISPLAY_ENV)}
