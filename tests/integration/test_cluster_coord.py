"""The cluster's coordination layer (supervisor/cluster/coord.py, lease.py) on a real
``redis-server`` (tests/support/redis.py): two nodes' coordinators on one Redis, leases that
really expire on the server, takeovers, fencing tokens, restarts that replay the AOF, outages.

Leases are 1 s here (the smallest allowed) so that an expiry is seen within a few polls; every
wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from supervisor.cluster.coord import Coordinator
from supervisor.cluster.lease import LeaseKeeper
from supervisor.cluster.redisclient import connect
from supervisor.cluster.views import Verdict
from supervisor.errors import ClusterUnavailable, Conflict, LeaseLost, NotFound
from tests.support.redis import RedisServer

pytestmark = pytest.mark.asyncio

LEASE_S = 1.0


def info(node: str, sessions: int = 0) -> dict[str, Any]:
    return {"url": f"http://{node}.test:8083", "max_sessions": 10, "sessions": sessions,
            "memory_mb": 123.5, "draining": False, "version": "0.1.0"}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, message: str) -> None:
    """Poll ``check`` until true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {message}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def nodes(server: RedisServer, *names: str, lease_s: float = LEASE_S) -> AsyncIterator[list[Coordinator]]:
    """One coordinator (with its own client) per node name, each lease renewed once."""
    clients = [connect(server.url, timeout_s=1.0, client_name=f"test-{name}") for name in names]
    coordinators = [Coordinator(client, name, lease_s) for client, name in zip(clients, names)]
    try:
        for coordinator in coordinators:
            await coordinator.renew(info(coordinator.node))
            await coordinator.mark()
        yield coordinators
    finally:
        for client in clients:
            await client.aclose()


async def expired(watcher: Coordinator, node: str) -> None:
    """Wait until ``node``'s lease is gone, the watcher renewing its own meanwhile."""
    async def gone() -> bool:
        await watcher.renew(info(watcher.node))
        return not next(v for v in await watcher.nodes() if v.node == node).alive
    await eventually(gone, timeout=10, message=f"the lease of {node} to expire")


async def test_leases_carry_the_nodes_info_and_expire_without_renewal(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        views = {v.node: v for v in await a.nodes()}
        assert sorted(views) == ["n1", "n2"] and all(v.alive for v in views.values())
        first = views["n1"]
        assert first.url == "http://n1.test:8083" and first.max_sessions == 10
        assert first.memory_mb == 123.5 and first.version == "0.1.0" and not first.draining
        assert 0 < first.lease_ms <= 1000 and first.info["incarnation"] == a.incarnation
        again = await a.renew(info("n1", sessions=4))
        assert again.sessions == 4 and again.started_at == first.started_at  # Redis time, kept
        assert again.renewed_at >= first.renewed_at
        await expired(b, "n1")
        assert [v.node for v in await b.alive_nodes()] == ["n2"]
        assert {v.node for v in await b.nodes()} == {"n1", "n2"}  # the dead stay listed
        await a.renew(info("n1"))
        assert {v.node for v in await b.alive_nodes()} == {"n1", "n2"}
        # A restarted node (same id, new incarnation) starts anew.
        restarted = Coordinator(a.redis, "n1", LEASE_S)
        view = await restarted.renew(info("n1"))
        assert view.info["incarnation"] != a.incarnation and view.started_at >= again.renewed_at


async def test_draining_is_the_clusters_word_across_renewals(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        await a.set_draining("n2", True)
        assert (await b.renew(info("n2"))).draining  # its own info said draining: false
        assert next(v for v in await a.nodes() if v.node == "n2").draining
        await b.set_draining("n2", False)
        assert not (await b.renew(info("n2"))).draining
        with pytest.raises(NotFound, match="ghost"):
            await a.set_draining("ghost", True)


async def test_claims_take_over_only_after_the_owners_lease_expired(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2", "n3") as (a, b, c):
        assert await a.claim("s1", record={"desired": "running", "n": 1}) == 1
        assert await b.claim("s1") is None
        assert await b.claim("s1", takeover=True) is None  # a is alive
        assert await a.claim("s1") == 2  # its own session again: a new token all the same
        await expired(b, "n1")
        assert await b.claim("s1") is None  # no takeover asked
        assert await b.claim("s1", takeover=True) == 3
        await c.renew(info("n3"))
        assert await c.claim("s1", takeover=True) is None  # b is alive
        view = await b.record("s1")
        assert view is not None and (view.owner, view.token, view.owner_alive) == ("n2", 3, True)
        assert view.record == {"desired": "running", "n": 1}  # kept when no record is given
        with pytest.raises(LeaseLost):  # a's lease lapsed: it claims nothing until renewed
            await a.claim("s2")
        await a.renew(info("n1"))
        assert await a.claim("s1", takeover=True) is None  # b alive: the returned node gets nothing
        assert await a.claim("s2") == 1
        never = Coordinator(a.redis, "n4", LEASE_S)
        with pytest.raises(LeaseLost) as lost:
            await never.claim("s3")
        assert lost.value.status == 503
        assert [v.session_id for v in await a.sessions()] == ["s1", "s2"]


async def test_verify_names_exactly_the_stale_sessions(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        owned = {f"s{i}": await a.claim(f"s{i}") or 0 for i in range(300)}
        key = await a.cluster_key()
        assert all(owned.values()) and await a.verify(owned) == Verdict(set(), set(), key)
        assert await a.verify({}) == Verdict(set(), set(), key)
        assert await a.claim("s7") == owned["s7"] + 1  # claimed again: the old token is stale
        assert await a.release("s8", owned["s8"])  # deleted (its token stays behind)
        # A session Redis never heard of is not "owned elsewhere": it is missing.
        assert await a.verify({**owned, "ghost": 1}) == Verdict({"s7", "s8"}, {"ghost"}, key)
        await expired(b, "n1")
        assert await b.claim("s9", takeover=True) == owned["s9"] + 1
        assert (await a.verify(owned)).stale == {"s7", "s8", "s9"}
        assert (await b.verify({"s9": owned["s9"] + 1, "s10": owned["s10"]})).stale == {"s10"}


async def test_writes_with_a_stale_token_are_refused(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        first = await a.claim("s", record={"desired": "running"})
        assert first is not None
        assert await a.write("s", first, {"desired": "running", "step": 1})
        second = await a.claim("s")
        assert second == first + 1
        assert not await a.write("s", first, {"desired": "stopped"})
        assert not await b.write("s", second, {"desired": "stopped"})  # not the owner
        view = await a.record("s")
        assert view is not None and view.record == {"desired": "running", "step": 1}
        assert await a.write("s", second, {"desired": "stopped"})
        view = await b.record("s")
        assert view is not None and view.desired == "stopped"


async def test_orphans_are_the_sessions_of_dead_owners_stopped_ones_too(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        await a.claim("a-run", record={"desired": "running"})
        await a.claim("a-stop", record={"desired": "stopped"})
        await b.claim("b-run", record={"desired": "running"})
        assert await b.orphans() == []
        await expired(b, "n1")
        orphans = await b.orphans()
        assert [(o.session_id, o.owner, o.owner_alive, o.desired) for o in orphans] == [
            ("a-run", "n1", False, "running"), ("a-stop", "n1", False, "stopped")]
        assert await b.claim("a-run", takeover=True) == 2
        assert [o.session_id for o in await b.orphans()] == ["a-stop"]
        # Each node's owned set follows its claims: a dead node's is all that is read for orphans.
        assert await b.redis.smembers(b.owned_key("n1")) == {"a-stop"}
        assert await b.redis.smembers(b.owned_key("n2")) == {"a-run", "b-run"}


async def test_a_handed_over_session_is_an_orphan_until_taken_and_a_release_leaves_no_trace(
        redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        token = await a.claim("s", record={"desired": "running"})
        assert token is not None
        assert not await b.disown("s", token, {"desired": "running"})  # not b's to hand over
        assert await a.disown("s", token, {"desired": "running", "moved": True})
        assert [(o.session_id, o.owner, o.record) for o in await b.orphans()] == [
            ("s", "", {"desired": "running", "moved": True})]
        assert await a.claim("s") is None  # handed over: not a's any more without a takeover
        taken = await b.claim("s", takeover=True)
        assert taken == token + 1 and await b.orphans() == []
        assert await b.release("s", taken)
        assert not await b.redis.smembers(b.owned_key("n2"))


async def test_release_forgets_the_session_but_never_reuses_a_token(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        token = await a.claim("s", record={"desired": "running"})
        assert token == 1
        assert not await a.release("s", 2) and not await b.release("s", 1)
        assert await a.release("s", 1)
        assert await a.record("s") is None and await a.sessions() == []
        assert await b.claim("s") == 2  # created again, elsewhere: the count goes on


async def test_the_cluster_key_is_made_once_and_survives_a_restart(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        key = await a.cluster_key()
        assert len(key) >= 40 and key == await a.cluster_key() == await b.cluster_key()
        redis_server.restart()
        assert await b.cluster_key() == key


async def test_ownership_survives_a_redis_restart(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2", lease_s=60) as (a, b):
        token = await a.claim("s", record={"desired": "running"})
        assert token is not None
        redis_server.restart()  # SIGTERM: Redis writes its AOF out; the new process replays it
        assert not (await a.verify({"s": token})).stale
        assert {v.node: v.alive for v in await b.nodes()} == {"n1": True, "n2": True}
        assert await b.claim("s", takeover=True) is None  # a's lease came back with it
        view = await b.record("s")
        assert view is not None and (view.owner, view.token, view.desired) == ("n1", token, "running")
        assert await a.claim("s") == token + 1  # the scripts load again on the new server


async def test_an_outage_is_cluster_unavailable_until_redis_is_back(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1") as (a,):
        token = await a.claim("s")
        assert token is not None
        redis_server.stop()
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: a.renew(info("n1")), a.nodes, lambda: a.claim("s"), lambda: a.verify({"s": token}),
            lambda: a.write("s", token, {}), lambda: a.record("s"), a.cluster_key]
        for call in calls:
            with pytest.raises(ClusterUnavailable) as down:
                await call()
            assert down.value.status == 503 and "cannot be reached" in down.value.message
        redis_server.start()
        assert (await a.renew(info("n1"))).alive
        assert not (await a.verify({"s": token})).stale


async def test_the_lease_keepers_bound_stops_while_redis_is_down(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1") as (a,):
        keeper = LeaseKeeper(a, LEASE_S, lambda: info("n1"))
        assert not keeper.healthy and keeper.valid_until == 0.0
        assert await keeper.renew_once() and keeper.healthy
        # The local bound never outlasts the lease as Redis counts it.
        server_ms = next(v for v in await a.nodes() if v.node == "n1").lease_ms
        assert keeper.remaining_s() * 1000 <= server_ms
        task = asyncio.create_task(keeper.run())
        try:
            before = keeper.valid_until

            async def advanced() -> bool:
                return keeper.valid_until > before and keeper.renewals >= 3
            await eventually(advanced, timeout=10, message="renewals moving valid_until on")
            redis_server.stop()
            failures = keeper.failures

            async def fenced() -> bool:
                return not keeper.healthy and keeper.failures >= failures + 3
            await eventually(fenced, timeout=15, message="failed renewals and the bound passed")
            frozen = keeper.valid_until
            assert time.monotonic() >= frozen and "cannot be reached" in keeper.last_error
            failures = keeper.failures

            async def failed_more() -> bool:
                return keeper.failures >= failures + 2
            await eventually(failed_more, timeout=10, message="more failed renewals")
            assert keeper.valid_until == frozen and not keeper.healthy
            redis_server.start()

            async def back() -> bool:
                return keeper.healthy and keeper.valid_until > frozen
            await eventually(back, timeout=15, message="the lease renewed after the restart")
            assert [v.node for v in await a.alive_nodes()] == ["n1"]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_redis_that_answers_nothing_stalls_no_renewal(redis_server: RedisServer) -> None:
    """A frozen Redis (connections accepted, nothing answered: a partition's look) makes each
    renewal time out within its interval; the bound stops, then moves again after the thaw."""
    async with nodes(redis_server, "n1") as (a,):
        keeper = LeaseKeeper(a, LEASE_S, lambda: info("n1"))
        task = asyncio.create_task(keeper.run())
        try:
            async def held() -> bool:
                return keeper.healthy and keeper.renewals >= 2
            await eventually(held, timeout=10, message="the lease held")
            redis_server.freeze()
            failures = keeper.failures

            async def timing_out() -> bool:
                return not keeper.healthy and keeper.failures >= failures + 3
            await eventually(timing_out, timeout=15, message="renewals timing out")
            frozen = keeper.valid_until
            assert time.monotonic() >= frozen
            redis_server.thaw()

            async def back() -> bool:
                return keeper.healthy and keeper.valid_until > frozen
            await eventually(back, timeout=15, message="the lease renewed after the thaw")
            assert await a.claim("s") == 1
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_retired_node_is_forgotten_only_once_dead_and_owning_nothing(redis_server: RedisServer) -> None:
    async with nodes(redis_server, "n1", "n2") as (a, b):
        assert await a.claim("s", record={"desired": "stopped"})
        with pytest.raises(NotFound, match="no node 'n9'"):
            await b.forget_node("n9")
        with pytest.raises(Conflict, match="alive"):
            await b.forget_node("n1")
        await expired(b, "n1")
        with pytest.raises(Conflict, match="still owns sessions"):
            await b.forget_node("n1")
        assert await b.claim("s", takeover=True)  # a stopped session is taken over too
        await b.forget_node("n1")
        assert [v.node for v in await b.nodes()] == ["n2"]
        assert not await b.redis.exists(a.owned_key("n1"), "zv:mark:n1")
