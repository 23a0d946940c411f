"""The API's listening socket, with a bound on connections that slow clients cannot exhaust.

A connection costs a file descriptor for as long as the client keeps it open, and a client
that sends half a request and waits costs nothing to the client. So:

- at most ``limit`` connections are open at once (``[server] max_connections``, and never
  more than half the file limit: workers, Chrome pipes, the database need the rest);
- a connection that is *idle* (no request being handled: between requests, or still sending
  its headers) is the first to go: when the limit is reached, the oldest idle connection is
  closed to make room, so that a flood of slow clients cannot keep ``/health`` or anyone else
  out for longer than the time it takes them to open a new one;
- when every connection is busy with a request (event streams, say), a new one gets an
  immediate ``503`` and is closed, politely;
- how long headers (and an idle keep-alive) may take is aiohttp's ``keepalive_timeout``,
  which the daemon sets to ``[server] header_timeout_s``; request bodies are read under
  ``[server] body_timeout_s`` (api.httputil).

The connections are tracked by a thin protocol wrapper (open, closed) and a middleware (busy
while a handler runs, SSE streams included).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from supervisor.logs import get_logger

__all__ = ["ConnectionGuard", "GuardedSite"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REFUSAL_LOG_EVERY_S = 60.0
_BODY = json.dumps({"error": {"type": "Unavailable",
                              "message": "too many connections to the zapvisor API; try again"}}).encode()
_REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nContent-Length: " + str(len(_BODY)).encode()
            + b"\r\n\r\n" + _BODY)
_log = get_logger()


class _Tracked(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted by the guard while it is open."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.Transport | None = None
        self.busy = 0  # requests being handled on it now
        self.evicted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP connection
        self.transport = transport
        self.guard._made(self)
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard._lost(self)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


_PROTOCOL_ERRORS = {400: "InvalidRequest", 408: "RequestTimeout", 413: "PayloadTooLarge",
                    431: "InvalidRequest", 500: "InternalError", 504: "Timeout"}


class _JsonErrors(RequestHandler):
    """aiohttp's protocol, whose own answers are JSON errors like every other: a request it
    cannot parse (a request line or header over 8190 bytes, a malformed header) never reaches
    the application, and aiohttp would answer it in text/plain."""

    __slots__ = ()  # the same layout: an instance aiohttp made may become one (``_answer_json``)

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """A JSON error, and one log line (aiohttp's own is a traceback per bad request)."""
        if request.writer.output_size > 0:  # as aiohttp: the answer has begun, the connection is lost
            raise ConnectionError("the response was already sent; cannot send the error")
        if status >= 500:
            _log.error("api.protocol_error", status=status, exc_info=exc)
        else:  # debug: a client's garbage must not fill the log
            _log.debug("api.unparsable_request", status=status, reason=(message or "")[:200])
        why = "internal error (see the daemon log)" if status >= 500 else (message or "bad request")
        answer = web.json_response({"error": {"type": _PROTOCOL_ERRORS.get(status, "InvalidRequest"),
                                              "message": why[:300]}}, status=status)
        answer.force_close()
        return answer


def _answer_json(handler: Any) -> None:
    if type(handler) is RequestHandler:  # what web.Server makes; nothing else is touched
        handler.__class__ = _JsonErrors


class _Refused(asyncio.Protocol):
    """A connection over the limit: a 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_REFUSAL)
        transport.close()


class ConnectionGuard:
    """Counts the API's connections and makes room, or refuses, past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[_Tracked, None] = {}  # in the order they were accepted
        self._by_transport: dict[asyncio.BaseTransport, _Tracked] = {}
        self._closing = 0  # evicted, not yet gone
        self.evicted = 0
        self.refused = 0
        self._last_report = 0.0

    @property
    def open(self) -> int:
        """Connections open now (those being closed to make room excluded)."""
        return len(self._open) - self._closing

    @property
    def busy(self) -> int:
        """Requests being handled now, over all connections."""
        return sum(conn.busy for conn in self._open)

    def factory(self, make: Callable[[], Any]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` around aiohttp's ``make``."""

        def protocol() -> asyncio.Protocol:
            if self.open >= self.limit and not self._evict_one():
                self.refused += 1
                self._report()
                return _Refused()
            inner = make()
            _answer_json(inner)
            conn = _Tracked(inner, self)
            self._open[conn] = None
            return conn

        return protocol

    def _evict_one(self) -> bool:
        for conn in self._open:
            if not conn.busy and not conn.evicted and conn.transport is not None:
                conn.evicted = True
                self._closing += 1
                conn.transport.abort()  # connection_lost follows, which forgets it
                self.evicted += 1
                self._report()
                return True
        return False

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._last_report >= _REFUSAL_LOG_EVERY_S:
            self._last_report = now
            _log.warning("api.connections_full", limit=self.limit, idle_closed=self.evicted,
                         refused=self.refused)

    def _made(self, conn: _Tracked) -> None:
        assert conn.transport is not None
        self._by_transport[conn.transport] = conn

    def _lost(self, conn: _Tracked) -> None:
        if conn in self._open:
            del self._open[conn]
            if conn.evicted:
                self._closing -= 1
        if conn.transport is not None:
            self._by_transport.pop(conn.transport, None)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Marks the request's connection busy while its handler runs."""
        conn = self._by_transport.get(request.transport) if request.transport else None
        if conn is None:
            return await handler(request)
        conn.busy += 1
        try:
            return await handler(request)
        finally:
            conn.busy -= 1


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, with each connection going through a :class:`ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        """The URL it serves."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        """Listen (registers with the runner, whose cleanup stops it)."""
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.factory(server), self._host, self._port, backlog=self._backlog,
            reuse_address=True)
