"""One coordination round trip at a time against a real redis-server (bench_cluster.py, part 2),
through the daemon's own Coordinator: a lease renewal; a verify of 100 / 1,000 / 10,000 tokens
(what a node running that many sessions sends every lease_s / 3); listing 10 / 100 / 1,000
nodes (every node, on every watch, to find dead ones); finding orphans with every node alive and
after a node that owned 100 / 1,000 sessions died; reading every session of the cluster (what
``cluster status`` and the dashboard's Cluster view ask); a renewal while other clients read
every session back to back (Redis runs one script at a time: the renewal waits for the one in
progress). Client time (median, p99) and Redis's own time per call (commandstats).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis

from supervisor.cluster.coord import Coordinator
from supervisor.cluster.redisclient import connect
from tests.bench.cluster_load import add_foreign, add_nodes

__all__ = ["print_coord_costs"]

_INFO = {"url": "http://127.0.0.1:1", "max_sessions": 100, "sessions": 0, "memory_mb": 0.0, "version": "bench"}


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e3:8.3f} ms, p99 {p99 * 1e3:8.3f} ms"


async def _timed(fn: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


async def _row(r: redis.Redis, label: str, fn: Callable[[], Awaitable[Any]], rounds: int) -> None:
    """Time ``fn``; print client time and Redis time per call (scripts, or what it sent)."""
    r.config_resetstat()
    samples = await _timed(fn, rounds)
    stats = r.info("commandstats")
    calls = sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_sunion"))
    usec = sum(v["usec"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_sunion"))
    per_call = f"; in Redis {usec / calls / 1e3:7.3f} ms per call, {calls / rounds:.0f} calls" if calls else ""
    print(f"  {label:52s} {_stats(samples)}{per_call}", flush=True)


async def _costs(url: str, r: redis.Redis, rounds: int) -> None:
    # A lease that outlives the run: this "node" must stay alive while it measures (a dead
    # one's sessions would all be orphans to read).
    coord = Coordinator(connect(url, timeout_s=30.0, client_name="zapvisor:bench"), "bench", lease_s=3600.0)
    try:
        await coord.renew(_INFO)
        await _row(r, "lease renewal, idle Redis", lambda: coord.renew(_INFO), rounds * 4)
        have = 0
        for count in (100, 1000, 10000):
            before = int(r.info("memory")["used_memory"])
            add_foreign(r, count - have, start=have, owner="bench", lease=False)  # this node's: none stale
            grown, added, have = int(r.info("memory")["used_memory"]) - before, count - have, count
            owned = {f"far{i:06d}": 1 for i in range(count)}
            assert await coord.verify(owned) == set()
            await _row(r, f"verify of {count} tokens", lambda: coord.verify(owned), rounds)
        print(f"  Redis memory per session (hash, zv:sessions and owner's set members): "
              f"{grown / added:.0f} B", flush=True)
        nodes = 0
        for count in (10, 100, 1000):
            add_nodes(r, count - nodes, start=nodes)
            nodes = count
            await _row(r, f"listing {count} live nodes", coord.nodes, rounds)
            if count == 100:
                await _row(r, f"finding orphans: {have} sessions, {count} nodes, all alive",
                           coord.orphans, rounds)
        for lost in (100, 1000):
            r.delete("zv:lease:ghost", "zv:owned:ghost")
            r.hset("zv:nodes", "ghost", "{}")
            r.sadd("zv:owned:ghost", *(f"far{i:06d}" for i in range(lost)))
            await _row(r, f"finding orphans: {nodes} nodes, a dead one owned {lost}", coord.orphans,
                       max(5, rounds // 10))
        await _row(r, f"reading all {have} sessions (cluster status)", coord.sessions, max(5, rounds // 20))
        spawn = multiprocessing.get_context("spawn")
        readers = [spawn.Process(target=_read_process, args=(url,), daemon=True) for _ in range(2)]
        for proc in readers:
            proc.start()
        await asyncio.sleep(3.0)  # the readers connected and reading
        busy = await _timed(lambda: coord.renew(_INFO), rounds)
        for proc in readers:
            proc.terminate()
            proc.join(10)
        print(f"  {'lease renewal, 2 clients reading all sessions':52s} {_stats(busy)}", flush=True)
    finally:
        await coord.redis.aclose()


async def _read_forever(url: str) -> None:
    coord = Coordinator(connect(url, timeout_s=30.0, client_name="zapvisor:reader"), "reader", lease_s=10.0)
    while True:
        await coord.sessions()


def _read_process(url: str) -> None:
    """A process that reads every session of the cluster until terminated."""
    asyncio.run(_read_forever(url))


def print_coord_costs(url: str, r: redis.Redis, rounds: int) -> None:
    """Every measurement above, printed."""
    r.flushall()
    asyncio.run(_costs(url, r, rounds))
