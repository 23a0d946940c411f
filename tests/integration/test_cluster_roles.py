"""The cluster's roles and states against a real redis-server (no daemons): roles every node
reads alike, round-robin over the WORKING sessions of live owners wherever they run, a dead
node's last word never routes; a deleted session leaves its roles; a node brings its own roles
without overwriting the cluster's; and tokens that never go back when Redis lost its data."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor.cluster.coord import Coordinator
from supervisor.cluster.rolebook import ClusterRoleBook
from supervisor.cluster.states import StateMirror
from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.sessions.registry import Registry
from supervisor.sessions.rolebook import LocalRoleBook, Member
from supervisor.settings import SessionsConfig, StateConfig
from supervisor.store import Store
from tests.integration.test_cluster_coord import expired, nodes
from tests.support.redis import RedisServer

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def local_book(tmp_path: Path, name: str) -> AsyncIterator[LocalRoleBook]:
    """A node's own role book: its database (a real SQLite file) and an empty registry."""
    config = Config(state=StateConfig(dir=str(tmp_path / name)), sessions=SessionsConfig(worker_spawn="exec"))
    config.layout.sessions.mkdir(parents=True)
    store = Store(config.layout.database)
    try:
        async with asyncio.TaskGroup() as tg:
            registry = Registry(config, store, EventBus(), tg)
            try:
                yield LocalRoleBook(store, registry)
            finally:
                await registry.close()
    finally:
        store.close()


async def states(coord: Coordinator, **by_session: str) -> None:
    mirror = StateMirror(coord, retry_s=0.1)
    for session_id, state in by_session.items():
        mirror.note(session_id, state)
    await mirror.flush()


async def test_roles_are_the_clusters_and_round_robin_spans_nodes(redis_server: RedisServer, tmp_path: Path) -> None:
    async with nodes(redis_server, "n1", "n2", "n3") as (a, b, c), \
            local_book(tmp_path, "a") as local_a, local_book(tmp_path, "c") as local_c:
        for coord, ids in ((a, ["a1", "a2"]), (b, ["b1"])):
            for session_id in ids:
                assert await coord.claim(session_id, record={"phone_number": f"+{session_id}"})
        await states(a, a1="WORKING", a2="STARTING")
        await states(b, b1="WORKING", a1="STOPPED")  # b owns no a1: its word is not written
        book_a, book_c = ClusterRoleBook(a, local_a), ClusterRoleBook(c, local_c)
        assert await book_a.existing(["a1", "b1", "nope"]) == {"a1", "b1"}
        assert await book_a.save("sales", ["a1", "a2", "b1"]) == []
        assert await book_c.all() == {"sales": ["a1", "a2", "b1"]}  # every node reads the same
        assert local_a.read() == {"sales": ["a1", "a2", "b1"]}  # and the changer keeps a copy
        assert await book_c.members(["a1", "a2", "b1", "gone"]) == {
            "a1": Member("WORKING", "+a1"), "a2": Member("STARTING", "+a2"),
            "b1": Member("WORKING", "+b1"), "gone": Member(None, None)}
        # Picks alternate between the two nodes' WORKING sessions, whichever node asks.
        picks = [await (book_a if i % 2 else book_c).pick("sales", ["a1", "a2", "b1"]) for i in range(4)]
        assert picks == ["a1", "b1", "a1", "b1"]
        await states(a, a2="WORKING")
        assert [await book_c.pick("sales", ["a1", "a2", "b1"]) for _ in range(3)] == ["a1", "a2", "b1"]
        # n2 dies: its WORKING word about b1 no longer counts, and b1 shows STOPPED.
        await expired(a, "n2")
        await c.renew({"url": "http://n3.test"})
        assert [await book_a.pick("sales", ["a1", "a2", "b1"]) for _ in range(3)] == ["a1", "a2", "a1"]
        assert (await book_a.members(["b1"]))["b1"].state == "STOPPED"
        # Taken over: the claim clears the old owner's state until the new owner writes one.
        assert await c.claim("b1", takeover=True)
        assert (await c.record("b1")).state == ""  # type: ignore[union-attr]
        await states(c, b1="WORKING")
        assert "b1" in [await book_c.pick("sales", ["a1", "a2", "b1"]) for _ in range(3)]
        await states(a, a1="STOPPED", a2="STOPPED")
        await states(c, b1="SCAN_QR_CODE")
        assert await book_c.pick("sales", ["a1", "a2", "b1"]) is None


async def test_deleted_sessions_leave_their_roles_and_brought_roles_never_overwrite(
        redis_server: RedisServer, tmp_path: Path) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b), \
            local_book(tmp_path, "a") as local_a, local_book(tmp_path, "b") as local_b:
        book_a, book_b = ClusterRoleBook(a, local_a), ClusterRoleBook(b, local_b)
        await book_a.save("sales", ["s1", "s2"])
        await book_a.save("solo", ["s1"])
        assert sorted(await book_b.dropped("s1")) == ["sales", "solo"]
        assert await book_b.all() == {"sales": ["s2"]}  # a role left empty is gone
        assert await book_a.save("sales", []) == ["s2"]
        assert await book_b.all() == {}
        # A host that ran alone joins with its own roles: added where the cluster has none.
        local_b.write("support", ["x"])
        local_b.write("billing", ["y"])
        await book_a.save("support", ["z"])
        assert await book_b.bring() == ["billing"]
        assert await book_a.all() == {"billing": ["y"], "support": ["z"]}


async def test_tokens_go_on_above_the_floor_after_redis_lost_its_data(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", lease_s=60) as (a,):
        key = await a.cluster_key()
        token = 0
        for _ in range(5):
            token = await a.claim("s", record={"desired": "running"}) or 0
        assert token == 5 and (await a.verify({"s": token})).key == key
        await a.redis.flushall()
        assert await a.verify({"s": token}) == (set(), {"s"}, None, False)  # missing, not stale
        await a.renew({"url": "http://n1.test"})
        assert await a.cluster_key(keep=key) == key  # the nodes go on agreeing
        assert await a.claim("s", record={"desired": "running"}, floor=token) == token + 1
        assert await a.claim("s", floor=2) == token + 2  # a floor below changes nothing
        await a.mark()
        assert await a.verify({"s": token + 2}) == (set(), set(), key, True)
