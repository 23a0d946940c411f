"""The stop causes that do not come as requests: stop signals, the supervisor's death,
Chrome's exit (or the loss of its CDP connection), and the supervisor's lease lapsing. Each
runs as a task of the worker and ends by calling ``request_stop`` (the lease: ``fence``); the
worker keeps the first cause (worker.main)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

from worker import protocol
from worker.browser.chrome import Chrome
from worker.drivers.base import Emit
from worker.lease import Lease
from worker.logs import get_logger

#: ``request_stop(exit code, kind, reason)``: ask the worker to shut down (the first call wins).
RequestStop = Callable[[int, protocol.ExitKind, str], None]

_PARENT_POLL_S = 5.0  # a fallback (the death signal and the socket's EOF come first): rare
_EXIT_AFTER_CDP_LOSS_S = 1.0

log = get_logger()


async def watch_signals(signals: asyncio.Queue[int], stopping: Callable[[], bool],
                        hurry: asyncio.Event, request_stop: RequestStop) -> None:
    """The first stop signal stops the worker gracefully; one during the shutdown sets
    ``hurry`` (the graceful waits are cut short)."""
    while True:
        signum = await signals.get()
        name = signal.Signals(signum).name
        if stopping():
            log.info("worker.hurry", signal=name)
            hurry.set()
        else:
            request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, f"signal {name}")


async def watch_parent(parent_pid: int, request_stop: RequestStop) -> None:
    """Stop once the supervisor (our parent) is gone."""
    # PR_SET_PDEATHSIG and socket EOF normally come first; this catches the rest.
    while os.getppid() == parent_pid:
        await asyncio.sleep(_PARENT_POLL_S)
    request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "supervisor died")


async def watch_chrome(chrome: Chrome, cdp_lost: asyncio.Event, emit: Emit,
                       request_stop: RequestStop) -> None:
    """Stop (exit 1) when Chrome exits, or its CDP connection drops, while the worker runs."""
    returncode = await chrome.wait_exited(cut_short=cdp_lost)
    if returncode is None:  # CDP dropped first: Chrome is probably exiting, give it a moment
        returncode = await chrome.wait_exited(_EXIT_AFTER_CDP_LOSS_S)
    if returncode is None:
        request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CHROME_EXITED, "CDP connection to Chrome lost")
        return
    log.warning("chrome.exited_unexpectedly", returncode=returncode)
    await emit(protocol.EV_CHROME_EXITED, {"returncode": returncode})
    request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CHROME_EXITED, f"Chrome exited with code {returncode}")


async def watch_lease(lease: Lease, fence: Callable[[float], None]) -> None:
    """Call ``fence(deadline)`` as soon as the lease lapses without a later one (worker.lease);
    while there is no lease (a single host), wait for one, for ever. Runs until the worker's
    very end, so that a lease lapsing during a graceful shutdown still cuts it short."""
    fence(await lease.wait_lapsed())
