"""What slow or many clients may cost: the API's connection guard (idle connections make room,
busy ones are never cut, the excess gets a 503), a body that never arrives (408), and a sweep
that hits EMFILE (retried, never fatal). In-process, over loopback sockets."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Callable

import pytest
from aiohttp import web

from supervisor.api.app import error_middleware
from supervisor.api.httputil import json_object
from supervisor.api.keys import BODY_TIMEOUT
from supervisor.api.listener import ConnectionGuard, GuardedSite
from supervisor.events.bus import EventBus
from supervisor.sessions import leftovers


async def _serve(guard: ConnectionGuard, release: asyncio.Event) -> tuple[web.AppRunner, int]:
    async def quick(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"slow": True})

    app = web.Application(middlewares=[guard.middleware])
    app.router.add_get("/health", quick)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, keepalive_timeout=30)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, guard)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def _until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


@pytest.mark.asyncio
async def test_idle_connections_make_room_busy_ones_are_kept_the_rest_get_503() -> None:
    guard = ConnectionGuard(limit=8)
    release = asyncio.Event()
    runner, port = await _serve(guard, release)
    try:
        # Eight clients that send half a request and wait: the guard is full...
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(8)]
        for _, writer in idle:
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        await _until(lambda: guard.open == 8, "eight connections accepted")
        # ...and yet a real request is served: the oldest idle connection made room.
        assert b"200 OK" in await _get(port, "/health")
        assert guard.evicted == 1 and await asyncio.wait_for(idle[0][0].read(), 5) == b""
        # Requests in progress are never cut: with every slot busy, the next one is refused.
        slow = [asyncio.create_task(_get(port, "/slow")) for _ in range(8)]
        await _until(lambda: guard.busy == 8, "eight requests in progress")
        refused = await _get(port, "/health")
        assert refused.startswith(b"HTTP/1.1 503") and b"too many connections" in refused
        release.set()
        assert all(b"200 OK" in answer for answer in await asyncio.gather(*slow))
        assert guard.refused >= 1
        for _, writer in idle:
            writer.close()
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_a_sweep_that_hits_emfile_is_retried_and_never_raises(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Procs:
        """A session's processes whose /proc reads run out of descriptors twice."""

        def end_leftovers(self, grace_s: float) -> int:
            calls.append("end")
            if len(calls) <= 2:
                raise OSError(errno.EMFILE, "Too many open files")
            return 0

        def release(self) -> None:
            calls.append("release")

    monkeypatch.setattr(leftovers, "_RETRY_S", 0.01)
    bus = EventBus()
    assert await leftovers.end_leftovers(bus, 1.0, "s1", Procs()) == 0  # type: ignore[arg-type]
    assert calls == ["end", "end", "end", "release"]
    failing = Procs()
    failing.end_leftovers = lambda grace_s: (_ for _ in ()).throw(OSError(24, "EMFILE"))  # type: ignore[method-assign]
    assert await leftovers.end_leftovers(bus, 1.0, "s1", failing) == 0  # given up, logged, not raised


@pytest.mark.asyncio
async def test_a_body_that_never_finishes_is_a_408_after_body_timeout_s() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await json_object(request))

    app = web.Application(middlewares=[error_middleware])
    app[BODY_TIMEOUT] = 0.3
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, lingering_time=0.5)  # aiohttp then waits 10 s for the rest
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"a\":")
        answer = await asyncio.wait_for(reader.read(4096), 5)
        assert answer.startswith(b"HTTP/1.1 408") and b"RequestTimeout" in answer
        writer.close()
    finally:
        await runner.cleanup()
