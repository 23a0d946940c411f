"""Receiver: a real webhook receiver (aiohttp, its own loop in a background thread).

    with Receiver() as rx:
        rx.url("/hook")            # http://127.0.0.1:<port>/hook
        rx.set_status(503)         # refuse everything from now on ...
        rx.set_status(200)         # ... and recover
        rx.accepted()              # the requests it answered 2xx, in arrival order

Every request is recorded with its headers, raw body and the status it got. ``set_delay``
makes it answer slowly (a receiver that hangs, for timeouts).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float  # monotonic

    @property
    def event(self) -> dict[str, Any]:
        """The decoded body (a zapvisor event)."""
        value: dict[str, Any] = json.loads(self.body)
        return value


class Receiver:
    """Context manager: a webhook receiver on 127.0.0.1 at a free port."""

    def __init__(self, status: int = 200) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="receiver", daemon=True)
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()
        self._log: list[Received] = []
        self._status = status
        self._delay_s = 0.0
        self._headers: dict[str, str] = {}
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        """Absolute URL of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def set_status(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer every later request with ``status`` (and these headers)."""
        with self._lock:
            self._status, self._headers = status, dict(headers or {})

    def set_delay(self, seconds: float) -> None:
        """Wait this long before answering."""
        with self._lock:
            self._delay_s = seconds

    def requests(self) -> list[Received]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def accepted(self) -> list[Received]:
        """The requests answered with a 2xx, in arrival order."""
        return [r for r in self.requests() if 200 <= r.status < 300]

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            status, headers, delay = self._status, self._headers, self._delay_s
        if delay:
            await asyncio.sleep(delay)  # simulates a slow receiver; not a synchronisation
        with self._lock:
            self._log.append(Received(request.path, dict(request.headers), body, status,
                                      time.monotonic()))
        return web.Response(status=status, text="ok" if status < 300 else "refused",
                            headers=headers)
