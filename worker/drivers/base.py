"""The page driver: what the worker does with its page once Chrome is up.

A driver is any object with ``async def run(self, page, emit) -> None``. The worker calls it
once, after the boot reply and the ``state STARTING`` event, and cancels it on shutdown.

- ``page`` is the pyppeteer Page of the session's tab.
- ``emit(event, data)`` sends an unsolicited event to the supervisor (see worker.protocol).
- Raise :class:`DriverFatal` for a failure a restart will not fix: the worker emits
  ``state FAILED`` with the reason and exits 3. Any other exception is a crash (exit 1, the
  supervisor restarts the worker). Returning means the session is over: exit 0.

:class:`BasicDriver` opens the configured URL and reports WORKING (``whatsapp.driver =
"basic"``: smoke tests, benchmarks); :class:`worker.whatsapp.WhatsAppDriver` follows WhatsApp Web.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from worker import protocol
from worker.browser.cdp import Page
from worker.logs import get_logger

#: Sends one event to the supervisor: ``await emit(protocol.EV_STATE, {"state": "WORKING"})``.
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]

log = get_logger()


class DriverFatal(Exception):
    """A failure of the session that a restart will not fix (e.g. the account is banned)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OperationRefused(Exception):
    """A request the driver will not carry out now; ``error_type`` names the supervisor's error
    class (e.g. "Conflict": wrong state, "InvalidRequest": bad arguments)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class Driver(Protocol):
    """The plug-in point for what runs in the page."""

    async def run(self, page: Page, emit: Emit) -> None:
        """Drive ``page`` until cancelled (or return when the session is over)."""

    async def request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Carry out a driver operation (worker.protocol OP_SEND_TEXT ...); its result.
        Raises OperationRefused (or any exception: reported as a failed operation)."""


class BasicDriver:
    """Load ``url``, check the page answers, report WORKING, then idle until cancelled."""

    def __init__(self, url: str, user_agent: str, page_timeout_s: float) -> None:
        self._url = url
        self._user_agent = user_agent
        self._page_timeout_s = page_timeout_s

    async def run(self, page: Page, emit: Emit) -> None:
        """See :class:`Driver`."""
        if self._user_agent:
            await page.setUserAgent(self._user_agent)
        # pyppeteer's own goto timeout does not cover CDP Page.navigate, which Chrome only
        # answers once the response starts: a server that never answers hangs it forever.
        try:
            await asyncio.wait_for(
                page.goto(self._url, waitUntil="load", timeout=int(self._page_timeout_s * 1000)),
                self._page_timeout_s + 1.0,
            )
        except TimeoutError:
            raise TimeoutError(f"{self._url} did not load within {self._page_timeout_s:g}s") from None
        await asyncio.wait_for(page.evaluate("() => 1"), self._page_timeout_s)
        log.info("page.loaded", url=self._url)
        await emit(protocol.EV_STATE, {"state": "WORKING", "url": self._url})
        await asyncio.Event().wait()  # forever: the worker cancels us on shutdown

    async def request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """See :class:`Driver`: the basic driver has no operations."""
        raise OperationRefused("Conflict", f"{op}: this session runs the basic driver (no WhatsApp)")


def default_driver(spec: protocol.BootSpec) -> Driver:
    """The driver for a session booted with ``spec``: the WhatsApp driver when its
    ``whatsapp.driver`` says so, else the basic one."""
    if spec.get("whatsapp", {}).get("driver") == "whatsapp":
        from worker.drivers.whatsapp import WhatsAppDriver  # here: worker.whatsapp imports this module

        return WhatsAppDriver(spec)
    return BasicDriver(spec["url"], spec["chrome_user_agent"], spec["page_timeout_s"])
