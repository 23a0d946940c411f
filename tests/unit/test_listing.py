"""The listing of sessions kept as JSON (api/listing.py): the same objects the session routes
answer, made again only for the sessions whose facts changed, and the host's figures read once
per window. In-process: a real registry (sessions not started), the real app over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from supervisor.api.app import build_app
from supervisor.api.keys import LISTING, REGISTRY
from supervisor.api.views import session_info
from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.sessions.pressure import HostFigures
from supervisor.sessions.registry import Registry
from supervisor.settings import SessionsConfig, StateConfig
from supervisor.states import State
from supervisor.store import Store
from worker import protocol

KEY = "unit-key-0123456789"
IDS = ("a", "b", "c")


@asynccontextmanager
async def _served(tmp_path: Path) -> AsyncIterator[tuple[web.Application, aiohttp.ClientSession]]:
    config = Config(state=StateConfig(dir=str(tmp_path)), sessions=SessionsConfig(worker_spawn="exec"))
    store = Store(tmp_path / "z.db")
    for session_id in IDS:
        store.insert_session(session_id, "stopped", {"n": session_id})
    async with asyncio.TaskGroup() as tg:
        registry = Registry(config, store, EventBus(), tg)
        app = build_app(registry, KEY, 1 << 20)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", headers={"X-Api-Key": KEY}) as http:
                yield app, http
        finally:
            await runner.cleanup()
            await registry.shutdown()
            await registry.close()
    store.close()


async def _get(http: aiohttp.ClientSession, path: str) -> Any:
    async with http.get(path) as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        return await resp.json()


def _expected(app: web.Application) -> list[dict[str, Any]]:
    """Each session's object as the session routes make it, with its queue depth (none queued)."""
    return [{**session_info(s), "queue_depth": 0} for s in app[REGISTRY].sessions.values()]


@pytest.mark.asyncio
async def test_the_listing_is_the_session_objects_and_only_a_changed_one_is_made_again(tmp_path: Path) -> None:
    async with _served(tmp_path) as (app, http):
        kept = app[LISTING]
        listed = await _get(http, "/api/sessions")
        assert listed["sessions"] == _expected(app)
        assert listed["stats"]["sessions"] == 3 and listed["stats"]["by_state"]["STOPPED"] == 3
        assert kept.encoded == 3
        assert (await _get(http, "/api/sessions"))["sessions"] == _expected(app)
        assert kept.encoded == 3, "nothing changed: every object was kept"
        sessions = app[REGISTRY].sessions
        changes = [
            lambda: sessions["a"].update_record(metadata={"n": "changed"}),
            lambda: sessions["b"].transition(State.STARTING, "queued"),
            lambda: sessions["c"].page.update(protocol.EV_PAGE, {"wa_version": "2.3000.1"}),
            lambda: setattr(sessions["a"], "headless", False),
            lambda: sessions["b"].update_record(restarts=2, last_error="boom"),
        ]
        for count, change in enumerate(changes, start=4):
            change()
            listed = await _get(http, "/api/sessions")
            assert listed["sessions"] == _expected(app)
            assert kept.encoded == count, "exactly the changed session was made again"
        by_id = {s["id"]: s for s in listed["sessions"]}
        assert by_id["a"]["metadata"] == {"n": "changed"} and by_id["a"]["headless"] is False
        assert by_id["b"]["state"] == by_id["b"]["status"] == "STARTING" and by_id["b"]["restarts"] == 2
        assert by_id["c"]["wa_version"] == "2.3000.1"
        assert listed["stats"]["by_state"]["STARTING"] == 1 and listed["stats"]["restarts"] == 2


@pytest.mark.asyncio
async def test_zapnode_listing_and_a_deleted_session(tmp_path: Path) -> None:
    async with _served(tmp_path) as (app, http):
        zapnode = await _get(http, "/sessions")
        assert zapnode["success"] is True and zapnode["sessions"] == _expected(app)
        assert len(app[LISTING]) == 3
        async with http.delete("/api/sessions/b") as resp:
            assert resp.status == 200
        listed = await _get(http, "/api/sessions")
        assert [s["id"] for s in listed["sessions"]] == ["a", "c"] and listed["stats"]["sessions"] == 2
        assert len(app[LISTING]) == 2, "a deleted session's JSON is not kept"


def test_host_figures_are_read_once_per_window() -> None:
    start = time.monotonic()
    figures = HostFigures(start, window_s=2.0)
    host, rss = figures.latest(start + 1.0)
    assert host["memory_total_bytes"] >= host["memory_available_bytes"] > 0 and rss > 0
    assert figures.latest(start + 1.9)[0] is host, "within the window: the same reading"
    again, _ = figures.latest(start + 2.0)
    assert again is not host and again["cpu_count"] >= 1
