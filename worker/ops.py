"""The requests a booted (or booting) worker answers: stop, lease, and the page driver's own
(send_text, pairing_code, logout, the messaging operations). ``boot`` is read before any of these (worker.main)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from worker import protocol
from worker.drivers.base import Driver, OperationRefused
from worker.lease import Lease, valid_until
from worker.logs import get_logger

#: Operations the page driver carries out (worker.drivers.base.Driver.request).
DRIVER_OPS = frozenset({protocol.OP_SEND_TEXT, protocol.OP_PAIRING_CODE, protocol.OP_LOGOUT,
                        *protocol.MESSAGING_OPS})

log = get_logger()


class _Refused(Exception):
    def __init__(self, error_type: protocol.ErrorType | protocol.WorkerErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class Operations:
    """Computes the reply to one request; calls may overlap (each runs in its own task)."""

    def __init__(self, current_driver: Callable[[], Driver | None], lease: Lease) -> None:
        self._current_driver = current_driver
        self._lease = lease

    async def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply (success or error) to ``request``, already known to be a request."""
        request_id, op = request["id"], request["op"]
        try:
            if op in DRIVER_OPS:
                result = await self._drive(op, request.get("args", {}))
            else:
                result = self._dispatch(op, request.get("args", {}))
        except (_Refused, OperationRefused) as exc:
            return protocol.make_error(request_id, exc.error_type, str(exc))
        except Exception as exc:  # an op that failed must not take the worker down
            log.warning("op.failed", op=op, error=repr(exc))
            return protocol.make_error(request_id, protocol.WorkerErrorType.OPERATION_FAILED,
                                       f"{op} failed: {exc!r}")
        return protocol.make_reply(request_id, result)

    async def _drive(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        driver = self._current_driver()
        if driver is None:
            raise _Refused(protocol.WorkerErrorType.NOT_READY, f"{op}: the page driver is not running yet")
        return await driver.request(op, args)

    def _dispatch(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == protocol.OP_STOP:
            return {}  # the caller then stops the worker, once this reply is sent
        if op == protocol.OP_LEASE:
            return self._extend_lease(args)
        if op == protocol.OP_BOOT:
            raise _Refused(protocol.WorkerErrorType.ALREADY_BOOTED, "this worker has already received boot")
        raise _Refused(protocol.WorkerErrorType.UNKNOWN_OPERATION, f"unknown operation {op!r}")

    def _extend_lease(self, args: dict[str, Any]) -> dict[str, Any]:
        until = valid_until(args.get("until_monotonic"))
        if until is None:
            raise _Refused(protocol.ErrorType.INVALID_REQUEST, "lease: until_monotonic must be a finite number")
        if not self._lease.extend(until):  # the lease watcher is fencing this worker right now
            raise _Refused(protocol.ErrorType.CONFLICT, f"lease: it lapsed at {self._lease.until}; "
                                                        "this worker is fencing itself")
        return {"remaining_s": round(until - time.monotonic(), 3)}
