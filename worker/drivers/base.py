"""The page driver's interface: what the worker does with its page once Chrome is up.

A driver is any object with ``async def run(self, page, emit) -> None`` and ``async def
request(self, op, args)``. The worker calls ``run`` once per page (again after a renderer
crash, on a new driver from :func:`worker.drivers.factory.make_driver`), after the boot reply
and the ``state STARTING`` event, and cancels it on shutdown.

- ``page`` is the pyppeteer Page of the session's tab.
- ``emit(event, data)`` sends an unsolicited event to the supervisor (see worker.protocol).
- Raise :class:`DriverFatal` for a failure a restart will not fix: the worker emits
  ``state FAILED`` with the reason and exits 3. Any other exception is a crash (exit 1, the
  supervisor restarts the worker). Returning means the session is over: exit 0.

The drivers: :class:`worker.drivers.basic.BasicDriver` opens the configured URL and reports
WORKING (``whatsapp.driver = "basic"``: smoke tests, benchmarks);
:class:`worker.drivers.whatsapp.WhatsAppDriver` follows WhatsApp Web.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from worker import protocol
from worker.browser.cdp import Page

#: Sends one event to the supervisor: ``await emit(protocol.EV_STATE, {"state": protocol.WorkerState.WORKING})``.
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


class DriverFatal(Exception):
    """A failure of the session that a restart will not fix (e.g. the account is banned)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OperationRefused(Exception):
    """A request the driver will not carry out now; ``error_type`` says why on the wire (e.g.
    ErrorType.CONFLICT: wrong state, ErrorType.INVALID_REQUEST: bad arguments)."""

    def __init__(self, error_type: protocol.ErrorType | protocol.WorkerErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class Driver(Protocol):
    """The plug-in point for what runs in the page."""

    async def run(self, page: Page, emit: Emit) -> None:
        """Drive ``page`` until cancelled (or return when the session is over)."""

    async def request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Carry out a driver operation (worker.protocol OP_SEND_TEXT ...); its result.
        Raises OperationRefused (or any exception: reported as a failed operation)."""
