"""Run the session's page driver, and run a new one after each renderer crash.

A driver's first step navigates, which gives the tab a new renderer; more than
``_MAX_PAGE_CRASHES`` crashes within ``_CRASH_WINDOW_S`` end the worker instead.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

from worker import protocol
from worker.drivers.base import Driver, DriverFatal, Emit
from worker.drivers.factory import make_driver
from worker.logs import get_logger
from worker.session import Session
from worker.spec import Boot

_MAX_PAGE_CRASHES = 3  # reloads allowed within _CRASH_WINDOW_S before the worker gives up
_CRASH_WINDOW_S = 60.0

log = get_logger()


async def drive(boot: Boot, session: Session, emit: Emit, page_crashed: asyncio.Event,
                on_driver: Callable[[Driver], None]) -> None:
    """Run drivers until one returns or raises (its exception propagates: DriverFatal, or a
    crash), or until the page crashed too often (RuntimeError). ``on_driver`` gets each new
    driver, which then serves the driver's requests. A failure that the session's proxy
    caused, or the proxy refusing its credentials, is DriverFatal with the proxy's reason."""
    proxy = session.proxy
    try:
        await _drive(boot, session, emit, page_crashed, on_driver)
    except Exception as exc:
        reason = proxy.verdict(exc) if proxy is not None else None
        if reason is None:
            raise
        raise DriverFatal(reason) from None


async def _drive(boot: Boot, session: Session, emit: Emit, page_crashed: asyncio.Event,
                 on_driver: Callable[[Driver], None]) -> None:
    crashes: collections.deque[float] = collections.deque()
    proxy_failed = session.proxy.failed if session.proxy is not None else asyncio.Event()
    while True:
        page_crashed.clear()
        driver = make_driver(boot.spec, boot.whatsapp)
        on_driver(driver)
        driving = asyncio.ensure_future(driver.run(session.page, emit))
        crashed = asyncio.ensure_future(page_crashed.wait())
        refused = asyncio.ensure_future(proxy_failed.wait())
        await asyncio.wait({driving, crashed, refused}, return_when=asyncio.FIRST_COMPLETED)
        crashed.cancel()
        refused.cancel()
        if driving.done():
            await driving  # its result, or its exception for the caller
            return
        driving.cancel()
        await asyncio.gather(driving, crashed, refused, return_exceptions=True)
        if proxy_failed.is_set():
            raise DriverFatal("the proxy failed")  # drive() gives the proxy's own reason
        now = time.monotonic()
        crashes.append(now)
        while crashes[0] < now - _CRASH_WINDOW_S:
            crashes.popleft()
        if len(crashes) > _MAX_PAGE_CRASHES:
            raise RuntimeError(f"the page crashed {len(crashes)} times in {_CRASH_WINDOW_S:g}s")
        log.warning("page.reloading", crashes=len(crashes))
        await emit(protocol.EV_STATE, {"state": protocol.WorkerState.STARTING,
                                       "reason": "page crashed; reloading"})
