"""The cluster's event scripts on a real ``redis-server``: the relay appends each journaled event
once (also when a batch is sent again, or after an outage), the shard leases are exclusive, a
node that lost a shard reads nothing more of it, and the next holder claims what it left pending,
in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from supervisor import config
from supervisor.cluster.redisclient import connect
from supervisor.cluster.relay import Relay
from supervisor.cluster.shards import GROUP, Op, Shards
from supervisor.cluster.streamids import SHARDS, shard_of
from supervisor.errors import ClusterUnavailable
from supervisor.hub import Hub
from supervisor.store import Store
from tests.support.redis import RedisServer

pytestmark = pytest.mark.asyncio
HOOK = "https://receiver.example/hook"


@asynccontextmanager
async def relaying(tmp_path: Path, server: RedisServer, **webhooks: Any) -> AsyncIterator[tuple[Hub, Relay, Any]]:
    """A node's hub (journal in a real SQLite store; ``[webhooks]`` these keys, by default a
    global hook for session events) and its relay to ``server``."""
    cfg = (config.load(None, env={}).replace("state", dir=str(tmp_path))
           .replace("webhooks", **(webhooks or {"url": HOOK, "events": ("session.*",)})))
    store = Store(tmp_path / "zapvisor.db")
    hub = Hub(cfg, store)
    hub.outbox.relayed = True  # as on a cluster node
    redis = connect(server.url, timeout_s=1.0)
    relay = Relay(redis, hub, "n1")
    try:
        await relay.open([])
        yield hub, relay, redis
    finally:
        await redis.aclose()
        store.close()


async def test_each_journaled_event_reaches_the_stream_once_in_order(tmp_path: Path, redis_server: RedisServer) -> None:
    async with relaying(tmp_path, redis_server) as (hub, relay, redis):
        for n in range(5):
            hub.bus.publish("session.updated" if n % 2 else "message", f"s{n % 2}", {"n": n})
        assert relay.backlog == 5 and await relay.drain() == 5
        entries = await redis.xrange("zv:events")
        assert [int(f["lid"]) for _, f in entries] == [1, 2, 3, 4, 5]
        assert {f["node"] for _, f in entries} == {"n1"}
        # Only the events the global webhook wants went to their session's shard, in order.
        shard = await redis.xrange(f"zv:deliveries:{shard_of('s1')}")
        assert [f["id"] for _, f in shard] == [entries[1][0], entries[3][0]]
        assert '"https://receiver.example/hook"' in shard[0][1]["targets"]
        # The answer was lost, the batch goes again: nothing is appended twice.
        relay.cursor = 0
        assert await relay.drain() == 5 and await redis.xlen("zv:events") == 5
        # Redis away: events wait in the journal, then follow once.
        redis_server.stop()
        hub.bus.publish("message", "s0", {"n": 5})
        with pytest.raises(ClusterUnavailable):
            await relay.drain()
        assert relay.backlog == 1
        redis_server.start()
        assert await relay.drain() == 1 and relay.backlog == 0
        assert [int(f["lid"]) for _, f in await redis.xrange("zv:events")] == [1, 2, 3, 4, 5, 6]
        assert await redis.hget("zv:published", "n1") == "6"
        # A node restarted goes on from where Redis says it stopped.
        hub.bus.publish("message", "s0", {"n": 6})
        again = Relay(redis, hub, "n1")
        await again.open([])
        assert again.cursor == 6 and await again.drain() == 1


async def test_one_holder_per_shard_and_the_next_one_claims_what_was_left_pending(redis_server: RedisServer) -> None:
    a_client = connect(redis_server.url, timeout_s=1.0)
    b_client = connect(redis_server.url, timeout_s=1.0)
    a = Shards(a_client, "n1", "inc-a", 1.0, keep_failed=5)
    b = Shards(b_client, "n2", "inc-b", 1.0, keep_failed=5)
    try:
        held, taken = await a.sync("w" * SHARDS)
        assert held == taken == list(range(SHARDS))
        assert await b.sync("w" * SHARDS) == ([], [])
        ids = [await a_client.xadd(a.stream(3), {"id": f"{n}-0", "event": "{}", "targets": "[]"})
               for n in range(4)]
        first = await a.fetch([3], 2)
        assert [(k, [e[0] for e in entries]) for k, entries in first] == [(3, ids[:2])]
        # n1 stops renewing (frozen, partitioned): its lease lapses on the server.
        deadline = time.monotonic() + 10
        while (await b.sync("w" * SHARDS))[0] != list(range(SHARDS)):
            assert time.monotonic() < deadline, "n1's shard leases never lapsed"
            await asyncio.sleep(0.1)
        assert await a.fetch([3], 10) == []  # fenced: n1 reads nothing more of shard 3
        entries, done = await b.claim(3)
        assert [e[0] for e in entries] == ids[:2] and done == set()  # what n1 read, in order
        assert [e[0] for k, got in await b.fetch([3], 10) for e in got] == ids[2:]  # then the rest
        await b.settle([Op("done", 3, ids[0], ("http://x/",)),
                        Op("ack", 3, ids[1]), Op("failed", record='{"url": "http://x/"}')])
        assert (await b.claim(3))[1] == {f"{ids[0]} http://x/"}
        await b.settle([Op("ack", 3, i, ("http://x/",)) for i in (ids[0], *ids[2:])])
        assert await b_client.xlen(b.stream(3)) == 0
        assert (await b_client.xpending(b.stream(3), GROUP))["pending"] == 0
        assert await b_client.hlen(f"{b.stream(3)}:done") == 0
        assert await b_client.lrange("zv:deliveries:failed", 0, -1) == ['{"url": "http://x/"}']
        owners = await a.owners()
        assert set(owners.values()) == {"n2"}
        await b.release_all()
        assert set((await a.owners()).values()) == {None}
    finally:
        await a_client.aclose()
        await b_client.aclose()
