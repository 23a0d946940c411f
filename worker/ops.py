"""The requests a booted (or booting) worker answers: stop, ping, screenshot, and the page
driver's own (send_text, pairing_code, logout)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

from worker import protocol
from worker.browser import cdp
from worker.drivers.base import Driver, OperationRefused
from worker.logs import get_logger
from worker.session import Session

_PING_TIMEOUT_S = 5.0
#: Operations the page driver carries out (worker.drivers.base.Driver.request).
DRIVER_OPS = frozenset({protocol.OP_SEND_TEXT, protocol.OP_PAIRING_CODE, protocol.OP_LOGOUT})

log = get_logger()


class _Refused(Exception):
    def __init__(self, error_type: protocol.WorkerErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class Operations:
    """Computes the reply to one request; calls may overlap (each runs in its own task)."""

    def __init__(self, current_session: Callable[[], Session | None],
                 current_driver: Callable[[], Driver | None] = lambda: None) -> None:
        self._current_session = current_session
        self._current_driver = current_driver

    async def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply (success or error) to ``request``, already known to be a request."""
        request_id, op = request["id"], request["op"]
        try:
            if op in DRIVER_OPS:
                result = await self._drive(op, request.get("args", {}))
            else:
                result = await self._dispatch(op)
        except (_Refused, OperationRefused) as exc:
            return protocol.make_error(request_id, exc.error_type, str(exc))
        except Exception as exc:  # an op that failed must not take the worker down
            log.warning("op.failed", op=op, error=repr(exc))
            return protocol.make_error(request_id, protocol.WorkerErrorType.OPERATION_FAILED, f"{op} failed: {exc!r}")
        return protocol.make_reply(request_id, result)

    async def _drive(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        driver = self._current_driver()
        if driver is None:
            raise _Refused(protocol.WorkerErrorType.NOT_READY, f"{op}: the page driver is not running yet")
        return await driver.request(op, args)

    async def _dispatch(self, op: str) -> dict[str, Any]:
        if op == protocol.OP_STOP:
            return {}
        if op == protocol.OP_BOOT:
            raise _Refused(protocol.WorkerErrorType.ALREADY_BOOTED, "this worker has already received boot")
        if op not in (protocol.OP_PING, protocol.OP_SCREENSHOT):
            raise _Refused(protocol.WorkerErrorType.UNKNOWN_OPERATION, f"unknown operation {op!r}")
        session = self._current_session()
        if session is None:
            raise _Refused(protocol.WorkerErrorType.NOT_READY, f"{op}: Chrome is not attached yet")
        if op == protocol.OP_PING:
            return {"cdp_rtt_ms": await cdp.probe_rtt_ms(session.page, _PING_TIMEOUT_S)}
        png = await asyncio.wait_for(session.page.screenshot(type="png"), session.spec["page_timeout_s"])
        return {"png_b64": base64.b64encode(png).decode("ascii")}
