"""What a cluster costs its Redis (bench_cluster.py's first half): the load one node puts on a
real redis-server with 0…N sessions running, and with M sessions elsewhere in the cluster; the
cost of one verify round trip and of one orphan scan against the number of sessions; the lease
renewal's latency, idle and while scans run.

Load is read from Redis itself over a measured window: ``CONFIG RESETSTAT``, the window, then
``INFO`` (commandstats: calls and server time per command, script internals included;
``total_net_input_bytes``/``total_net_output_bytes``; ``used_cpu_user + used_cpu_sys``, which
also holds Redis's own housekeeping and AOF writes). "busy" is the time Redis spent executing
the nodes' commands (commandstats usec of what clients sent; a script's includes what it ran):
Redis runs commands one at a time, so busy ms/s over 1000 is the share of its one core. The
bench's own INFO and CONFIG calls are left out.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any

import redis

from supervisor.cluster.coord import Coordinator, connect
from tests.support.daemon import Daemon
from tests.support.procs import wait_until

__all__ = ["Load", "add_foreign", "measure", "node_load", "print_coord_costs", "record_json"]

#: Commands the bench sends itself during a window (not the node's load).
_OURS = {"info", "config"}
#: Commands a node sends itself (never from inside a script): a script call counts once.
_DIRECT = {"evalsha", "eval", "smembers", "script", "client", "hello", "ping"}


def record_json() -> str:
    """A session record as nodes write it (gate.record_of), with a phone number and times."""
    return json.dumps({"desired": "running", "metadata": {}, "options": {}, "created_at": 1767225600.0,
                       "phone_number": "244929782402", "first_login_at": 1767225600.0})


class Load:
    """What Redis did during one window: per command calls and microseconds, bytes, CPU."""

    def __init__(self, info: dict[str, Any], seconds: float) -> None:
        self.seconds = seconds
        self.calls: dict[str, int] = {}
        self.usec: dict[str, int] = {}
        for key, value in info.items():
            if key.startswith("cmdstat_") and isinstance(value, dict):
                self.calls[key[8:]] = int(value["calls"])
                self.usec[key[8:]] = int(value["usec"])
        self.net_in = int(info["total_net_input_bytes"])
        self.net_out = int(info["total_net_output_bytes"])
        self.cpu_s = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def per_s(self, value: float) -> float:
        return value / self.seconds

    @property
    def round_trips(self) -> int:
        """Commands nodes sent (a script call is one, whatever it runs)."""
        return sum(n for name, n in self.calls.items() if name in _DIRECT)

    @property
    def busy_s(self) -> float:
        """Seconds Redis spent running the nodes' commands (a script's time includes what it ran)."""
        return sum(n for name, n in self.usec.items() if name in _DIRECT) / 1e6

    @property
    def executed(self) -> int:
        """Every command Redis ran, those run inside scripts included, but the bench's own."""
        return sum(n for name, n in self.calls.items() if name not in _OURS)

    def row(self, label: str) -> str:
        return (f"  {label:34s} {self.per_s(self.round_trips):8.1f} calls/s {self.per_s(self.executed):9.1f} cmds/s "
                f"{self.per_s(self.net_in) / 1e3:8.2f} kB/s in {self.per_s(self.net_out) / 1e3:9.2f} kB/s out "
                f"{self.per_s(self.busy_s) * 1e3:7.2f} ms busy/s (Redis CPU {self.per_s(self.cpu_s) * 1e3:5.1f} ms/s)")


def measure(r: redis.Redis, seconds: float) -> Load:
    """Reset Redis's counters, let the cluster run ``seconds``, read them back."""
    r.config_resetstat()
    started = time.monotonic()
    time.sleep(seconds)  # the measured window: nothing to wait for, the nodes just run
    took = time.monotonic() - started
    info = r.info("all")
    return Load(info, took)


def add_foreign(r: redis.Redis, count: int, start: int = 0, owner: str = "elsewhere",
                lease: bool = True) -> None:
    """``count`` sessions owned by ``owner`` (with ``lease``, a live lease kept for it here):
    every node scans them for orphans, none takes them."""
    if lease:
        r.set(f"zv:lease:{owner}", "bench", px=3_600_000)
    record = record_json()
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + count):
        sid = f"far{i:06d}"
        pipe.hset(f"zv:session:{sid}", mapping={"owner": owner, "token": 1, "record": record})
        pipe.sadd("zv:sessions", sid)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def _create_running(d: Daemon, ids: list[str]) -> None:
    for sid in ids:
        d.client.post("/api/sessions", {"id": sid})

    def all_working() -> bool:
        states = [s["state"] for s in d.client.get("/api/sessions")["sessions"]]
        return states.count("WORKING") == len(states)

    wait_until(all_working, timeout=60 + 3 * len(ids), interval=0.5, message="every session WORKING")


def node_load(d: Daemon, r: redis.Redis, sizes: list[int], foreign: list[int], window_s: float) -> list[tuple[str, Load]]:
    """One node (``d``, running): its load with each of ``sizes`` sessions running (basic
    driver: no snapshot, only coordination), then with the largest size and ``foreign``
    sessions of another node in the cluster. Returns (label, load) rows, printed as they come."""
    rows: list[tuple[str, Load]] = []
    running = 0
    for size in sizes:
        _create_running(d, [f"own{i:04d}" for i in range(running, size)])
        running = size
        time.sleep(2.0)  # let the creates' own writes drain out of the window
        load = measure(r, window_s)
        rows.append((f"1 node, {size} sessions", load))
        print(load.row(rows[-1][0]), flush=True)
    have = 0
    for total in foreign:
        add_foreign(r, total - have, start=have)
        have = total
        load = measure(r, window_s)
        rows.append((f"1 node, {running} own + {total} elsewhere", load))
        print(load.row(rows[-1][0]), flush=True)
    return rows


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e3:7.3f} ms, p99 {p99 * 1e3:7.3f} ms"


async def _timed(fn: Any, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


async def _coord_costs(url: str, r: redis.Redis, counts: list[int], rounds: int) -> None:
    client = connect(url, timeout_s=10.0, client_name="zapvisor:bench")
    coord = Coordinator(client, "bench", lease_s=10.0)
    info = {"url": "http://127.0.0.1:1", "max_sessions": 100, "sessions": 0, "memory_mb": 0.0, "version": "bench"}
    try:
        await coord.renew(info)
        renew = await _timed(lambda: coord.renew(info), rounds * 4)
        print(f"  lease renewal, idle Redis:            {_stats(renew)}  (n={len(renew)})")
        for count in counts:
            before = int(r.info("memory")["used_memory"])
            add_foreign(r, count, owner="bench", lease=False)  # this node's, token 1: none stale
            grown = int(r.info("memory")["used_memory"]) - before
            owned = {f"far{i:06d}": 1 for i in range(count)}
            assert await coord.verify(owned) == set()
            r.config_resetstat()
            verify = await _timed(lambda: coord.verify(owned), rounds)
            server = r.info("commandstats")["cmdstat_evalsha"]
            print(f"  verify of {count:6d} tokens:             {_stats(verify)}; in Redis "
                  f"{server['usec_per_call'] / 1e3:7.3f} ms/call")
            if count == counts[-1]:
                print(f"  Redis memory per session (its hash and set member; {count} added): "
                      f"{grown / (count - counts[-2] if len(counts) > 1 else count):.0f} B")
            r.config_resetstat()
            scan = await _timed(coord.orphans, max(3, rounds // 4))
            server = r.info("commandstats")
            print(f"  orphan scan of {count:6d} sessions:       {_stats(scan)}; in Redis "
                  f"{server['cmdstat_evalsha']['usec_per_call'] / 1e3:7.3f} ms per script call "
                  f"({server['cmdstat_evalsha']['calls'] // len(scan)} calls/scan)")
        # Worst case: other nodes (processes of their own) scan the largest cluster back to
        # back. Redis runs one script at a time: a renewal waits for the batch in progress.
        spawn = multiprocessing.get_context("spawn")
        scanners = [spawn.Process(target=_scan_process, args=(url,), daemon=True) for _ in range(2)]
        for proc in scanners:
            proc.start()
        await asyncio.sleep(2.0)  # the scanners up and scanning
        busy = await _timed(lambda: coord.renew(info), rounds)
        for proc in scanners:
            proc.terminate()
            proc.join(10)
        print(f"  lease renewal, 2 nodes scanning {counts[-1]} back to back: {_stats(busy)}  (n={len(busy)})")
    finally:
        await client.aclose()


async def _scan_forever(url: str) -> None:
    coord = Coordinator(connect(url, timeout_s=30.0, client_name="zapvisor:scanner"), "scanner", lease_s=10.0)
    while True:
        await coord.orphans()


def _scan_process(url: str) -> None:
    """A process that scans for orphans until terminated."""
    asyncio.run(_scan_forever(url))


def print_coord_costs(url: str, r: redis.Redis, counts: list[int], rounds: int) -> None:
    """Verify and scan round trips against ``counts`` sessions, renewal latency; printed."""
    r.flushall()
    asyncio.run(_coord_costs(url, r, counts, rounds))


def redis_client(url: str) -> redis.Redis:
    """A plain client for INFO and set-up."""
    return redis.Redis.from_url(url, decode_responses=True)


def workdir_of(base: Path, name: str) -> Path:
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path
