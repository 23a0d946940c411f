"""The basic driver: open the configured URL, report WORKING, idle (no WhatsApp)."""

from __future__ import annotations

import asyncio
from typing import Any

from worker import protocol
from worker.browser import cdp
from worker.browser.cdp import Page
from worker.drivers.base import Emit, OperationRefused
from worker.logs import get_logger

log = get_logger()


class BasicDriver:
    """Load ``url``, check the page answers, report WORKING, then idle until cancelled."""

    def __init__(self, url: str, user_agent: str, page_timeout_s: float) -> None:
        self._url = url
        self._user_agent = user_agent
        self._page_timeout_s = page_timeout_s

    async def run(self, page: Page, emit: Emit) -> None:
        """See :class:`worker.drivers.base.Driver`."""
        if self._user_agent:
            await page.setUserAgent(self._user_agent)
        await cdp.goto(page, self._url, "load", self._page_timeout_s)
        await asyncio.wait_for(page.evaluate("() => 1"), self._page_timeout_s)
        log.info("page.loaded", url=self._url)
        await emit(protocol.EV_STATE, {"state": protocol.WorkerState.WORKING, "url": self._url})
        await asyncio.Event().wait()  # forever: the worker cancels us on shutdown

    async def request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """See :class:`worker.drivers.base.Driver`: the basic driver has no operations."""
        raise OperationRefused(protocol.ErrorType.CONFLICT, f"{op}: this session runs the basic driver (no WhatsApp)")
