"""Server-sent events: filters, resume, gaps, pings, slow clients, shutdown; in-process (real
HTTP on a real socket, the daemon's own app) and against a real daemon."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from supervisor import config
from supervisor.api import app as api
from supervisor.api.keys import HUB
from supervisor.hub import Hub
from supervisor.sessions.registry import Registry
from supervisor.store import Store
from tests.support.daemon import API_KEY, Daemon
from tests.support.pages import PageServer
from tests.support.procs import kill_marked
from tests.support.sse import Message, SSEClient

KEY = "sse-test-key"


@dataclass
class Served:
    url: str
    hub: Hub
    registry: Registry


@asynccontextmanager
async def serve_events(tmp_path: Path, **events: Any) -> AsyncIterator[Served]:
    """The daemon's app with its hub, in this loop, on a free port."""
    cfg = config.load(None, env={}).replace("state", dir=str(tmp_path)).replace("events", **events)
    store = Store(tmp_path / "zapvisor.db")
    hub = Hub(cfg, store)
    try:
        async with asyncio.TaskGroup() as tg:
            registry = Registry(cfg, store, hub.bus, tg)
            hub.attach(registry)
            app = api.build_app(registry, KEY, 1 << 20)
            app[HUB] = hub
            runner = web.AppRunner(app, shutdown_timeout=2.0)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            try:
                yield Served(f"http://127.0.0.1:{runner.addresses[0][1]}", hub, registry)
            finally:
                hub.close()
                await runner.cleanup()
    finally:
        store.close()


async def read_messages(resp: aiohttp.ClientResponse, count: int,
                        timeout: float = 10) -> list[dict[str, Any]]:
    """``count`` SSE messages as {"id", "event", "data"}; comments become {"comment": ...}."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with asyncio.timeout(timeout):
        while len(found) < count:
            raw = await resp.content.readline()
            if not raw:
                break  # the server ended the stream
            line = raw.decode().rstrip("\r\n")
            if line.startswith(":"):
                found.append({"comment": line})
            elif line:
                name, _, value = line.partition(": ")
                current[name] = json.loads(value) if name == "data" else value
            elif current:
                found.append(current)
                current = {}
    return found


def headers(last_event_id: int | None = None) -> dict[str, str]:
    extra = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    return {"X-Api-Key": KEY, **extra}


@pytest.mark.asyncio
async def test_filters_history_live_and_bad_requests(tmp_path: Path) -> None:
    async with serve_events(tmp_path) as srv, aiohttp.ClientSession() as http:
        bus = srv.hub.bus
        await srv.registry.create("a", False, {})  # event 1: session.created
        bus.publish("message", "a", {"text": "hi"})
        bus.publish("session.status", "b", {"state": "WORKING"})
        async with http.get(f"{srv.url}/api/events?events=session.*,message",
                            headers=headers(0)) as resp:
            assert resp.status == 200 and resp.content_type == "text/event-stream"
            history = await read_messages(resp, 3)
            assert [(m["id"], m["event"]) for m in history] == [
                ("1", "session.created"), ("2", "message"), ("3", "session.status")]
            assert set(history[1]["data"]) == {"id", "event", "session", "timestamp", "payload"}
            bus.publish("message.ack", "a", {})  # filtered out
            bus.publish("session.status", "a", {"state": "STOPPED"})
            live = await read_messages(resp, 1)
            assert live[0]["id"] == "5" and live[0]["data"]["payload"] == {"state": "STOPPED"}
        async with http.get(f"{srv.url}/api/sessions/a/events?last_event_id=0",
                            headers=headers()) as resp:
            mine = await read_messages(resp, 4)
            assert [m["id"] for m in mine] == ["1", "2", "4", "5"]  # only session a
        for path, status in (("/api/events?events=Bad", 400), ("/api/sessions/zz/events", 404),
                             ("/api/sessions/bad%20id/events", 400)):
            async with http.get(srv.url + path, headers=headers()) as resp:
                assert resp.status == status, path
                assert (await resp.json())["error"]["type"]
        async with http.get(f"{srv.url}/api/events", headers=headers()) as resp:
            assert resp.status == 200
        async with http.get(f"{srv.url}/api/events", headers={"Last-Event-ID": "x",
                                                             "X-Api-Key": KEY}) as resp:
            assert resp.status == 400
        async with http.get(f"{srv.url}/api/events") as resp:
            assert resp.status == 401


@pytest.mark.asyncio
async def test_resume_beyond_the_history_says_what_is_missing(tmp_path: Path) -> None:
    async with serve_events(tmp_path, history=5) as srv, aiohttp.ClientSession() as http:
        for n in range(20):
            srv.hub.bus.publish("e", None, {"n": n})
        async with http.get(f"{srv.url}/api/events", headers=headers(2)) as resp:
            messages = await read_messages(resp, 6)
        assert messages[0]["event"] == "gap" and "id" not in messages[0]
        assert messages[0]["data"] == {"first_missing": 3, "last_missing": 15}
        assert [m["id"] for m in messages[1:]] == ["16", "17", "18", "19", "20"]


@pytest.mark.asyncio
async def test_idle_streams_get_pings_and_close_ends_them(tmp_path: Path) -> None:
    async with serve_events(tmp_path, sse_ping_interval_s=0.1) as srv, \
            aiohttp.ClientSession() as http:
        async with http.get(f"{srv.url}/api/events", headers=headers()) as resp:
            assert (await read_messages(resp, 2)) == [{"comment": ": ping"}] * 2
            srv.hub.bus.publish("last", None, {})
            srv.hub.close()  # what the daemon does on shutdown
            rest = [m for m in await read_messages(resp, 100) if "comment" not in m]
            assert [m["event"] for m in rest] == ["last"]  # delivered, then the stream ended
        assert srv.hub.bus.subscribers == 0


@pytest.mark.asyncio
async def test_a_stalled_client_is_dropped_and_does_not_slow_the_others(tmp_path: Path) -> None:
    async with serve_events(tmp_path, subscriber_queue=50, sse_send_timeout_s=1.0) as srv, \
            aiohttp.ClientSession() as http:
        port = int(srv.url.rsplit(":", 1)[1])
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never read
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(f"GET /api/events HTTP/1.1\r\nHost: x\r\nX-Api-Key: {KEY}\r\n\r\n".encode())
        try:
            async with http.get(f"{srv.url}/api/events", headers=headers()) as fast:
                async with asyncio.timeout(5):
                    while srv.hub.bus.subscribers < 2:
                        await asyncio.sleep(0.01)
                received: list[int] = []
                progress = asyncio.Event()

                async def read_fast() -> None:
                    while len(received) < total:
                        for m in await read_messages(fast, 1):
                            received.append(m["data"]["payload"]["n"])
                        progress.set()

                total, padding = 5000, "x" * 2048  # ~10 MB: more than any socket buffer holds
                reader = asyncio.ensure_future(read_fast())
                started = time.monotonic()
                async with asyncio.timeout(60):
                    for n in range(total):
                        # A live client keeps up: never more than 25 events behind.
                        while n - len(received) > 25:
                            progress.clear()
                            await progress.wait()
                        srv.hub.bus.publish("bulk", None, {"n": n, "pad": padding})
                    await reader
                elapsed = time.monotonic() - started
            assert received == list(range(total))
            assert srv.hub.bus.dropped == 1  # the stalled one, and only it
            assert elapsed < 30, elapsed
        finally:
            stalled.close()


def test_streams_end_on_shutdown_and_ids_survive_a_restart(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/").start()
    url = f"http://127.0.0.1:{free_port}/api/events"
    with SSEClient(url, API_KEY) as stream:
        d.client.post("/api/sessions", {"id": "a", "start": False})
        d.client.delete("/api/sessions/a")
        d.client.post("/api/sessions", {"id": "b", "start": False})
        stream.read_until(lambda m: m.data["session"] == "b", timeout=10)
        assert d.stop(timeout=10) == 0  # an open stream does not hold the shutdown
        stream.read_to_end(timeout=10)
    ids = [int(m.id) for m in stream.seen if m.id]
    assert [m.event for m in stream.seen] == ["session.created", "session.deleted", "session.created"]
    d.start()
    try:
        with SSEClient(url, API_KEY, last_event_id=ids[0]) as again:
            replayed = [again.next(), again.next()]
            assert [int(m.id) for m in replayed if m and m.id] == ids[1:]  # from the database
            d.client.post("/api/sessions", {"id": "c", "start": False})
            new = again.read_until(lambda m: m.data["session"] == "c", timeout=10)
            assert new.id is not None and int(new.id) > ids[-1]
    finally:
        assert d.stop() == 0


def state_is(state: str) -> Callable[[Message], bool]:
    return lambda m: m.event == "session.status" and m.data["payload"]["state"] == state


@pytest.mark.chrome
def test_a_session_lifecycle_streams_and_resumes(workdir: Path, free_port: int) -> None:
    with PageServer() as pages:
        d = Daemon(workdir, free_port, pages.url("/"), events={"resource_interval_s": 0.5})
        d.start()
        try:
            base = f"http://127.0.0.1:{free_port}"
            with SSEClient(f"{base}/api/events?events=session.*", API_KEY) as stream:
                d.client.post("/api/sessions", {"id": "life"})
                working = stream.read_until(state_is("WORKING"), timeout=60)
                stream.read_until(lambda m: m.event == "session.resource", timeout=30)
                d.client.post("/api/sessions/life/stop")
                stream.read_until(state_is("STOPPED"), timeout=60)
            seen = [m for m in stream.seen if m.event != "session.resource"]
            assert (seen[0].event, seen[0].data["session"]) == ("session.created", "life")
            states = [m.data["payload"]["state"] for m in seen if m.event == "session.status"]
            assert states[0] == "STARTING" and "WORKING" in states
            assert states[-2:] == ["STOPPING", "STOPPED"]
            sample = next(m.data["payload"] for m in stream.seen if m.event == "session.resource")
            assert sample["memory_bytes"] > 10_000_000 and sample["processes"] >= 2
            assert sample["memory_source"] in ("pss", "cgroup") and sample["cpu_seconds"] > 0
            ids = [int(m.id) for m in stream.seen if m.id]
            assert ids == sorted(ids) and len(ids) == len(set(ids))
            # Reconnect from the WORKING event: only what followed, on the session's own stream.
            assert working.id is not None
            with SSEClient(f"{base}/api/sessions/life/events?events=session.status", API_KEY,
                           last_event_id=int(working.id)) as again:
                resumed = [again.next(), again.next()]
            assert [m.data["payload"]["state"] for m in resumed if m] == ["STOPPING", "STOPPED"]
        finally:
            assert d.stop() == 0
            kill_marked(workdir / "state")
