"""What a cluster costs its Redis (bench_cluster.py, part 1): the load one node puts on a real
redis-server with 0…N sessions running, then with M sessions of other live nodes in the
cluster and with K other live nodes (what each node reads on every watch: the node list).

Load is read from Redis itself over a measured window: ``CONFIG RESETSTAT``, the window, then
``INFO`` (commandstats: calls and server time per command, script internals included;
``total_net_input_bytes``/``total_net_output_bytes``; ``used_cpu_user + used_cpu_sys``, which
also holds Redis's own housekeeping and AOF writes). "busy" is the time Redis spent executing
the nodes' commands (commandstats usec of what clients sent; a script's includes what it ran):
Redis runs commands one at a time, so busy ms/s over 1000 is the share of its one core. The
bench's own INFO and CONFIG calls are left out.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from tests.support.daemon import Daemon
from tests.support.procs import wait_until

__all__ = ["Load", "add_foreign", "add_nodes", "measure", "node_info_json", "node_load", "record_json",
           "redis_client"]

#: Commands the bench sends itself during a window (not the node's load).
_OURS = {"info", "config"}
#: Commands a node sends itself (never from inside a script): a script call counts once.
_DIRECT = {"evalsha", "eval", "smembers", "sunion", "script", "client", "hello", "ping"}


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


def node_info_json(node: str) -> str:
    """A ``zv:nodes`` entry as a node's renewal stores it."""
    return json.dumps({"url": f"http://10.0.0.1:8083/{node}", "max_sessions": 130, "sessions": 120,
                       "memory_mb": 48000.0, "version": "0.0.0", "incarnation": "0123456789abcdef",
                       "started_at": 1767225600.0, "renewed_at": 1767225600.0, "draining": False})


def add_nodes(r: redis.Redis, count: int, start: int = 0) -> None:
    """``count`` other live nodes (entries in ``zv:nodes``, lease keys kept alive here)."""
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + count):
        pipe.hset("zv:nodes", f"peer{i:04d}", node_info_json(f"peer{i:04d}"))
        pipe.set(f"zv:lease:peer{i:04d}", "bench", px=3_600_000)
    pipe.execute()


def add_foreign(r: redis.Redis, count: int, start: int = 0, owner: str = "elsewhere",
                lease: bool = True) -> None:
    """``count`` sessions owned by ``owner`` (with ``lease``, a live lease kept for it here),
    recorded as the claim records them (their hash, ``zv:sessions``, the owner's set)."""
    if lease:
        r.set(f"zv:lease:{owner}", "bench", px=3_600_000)
    record = record_json()
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + count):
        sid = f"far{i:06d}"
        pipe.hset(f"zv:session:{sid}", mapping={"owner": owner, "token": 1, "record": record})
        pipe.sadd("zv:sessions", sid)
        pipe.sadd(f"zv:owned:{owner}", sid)
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


def node_load(d: Daemon, r: redis.Redis, sizes: list[int], foreign: list[int], peers: list[int],
              window_s: float) -> list[tuple[str, Load]]:
    """One node (``d``, running): its load with each of ``sizes`` sessions running (basic
    driver: no snapshot, only coordination), then with the largest size and ``foreign``
    sessions of another live node in the cluster, then with ``peers`` other live nodes as well.
    Returns (label, load) rows, printed as they come."""
    rows: list[tuple[str, Load]] = []

    def row(label: str) -> None:
        load = measure(r, window_s)
        rows.append((label, load))
        print(load.row(label), flush=True)

    running = 0
    for size in sizes:
        _create_running(d, [f"own{i:04d}" for i in range(running, size)])
        running = size
        time.sleep(2.0)  # let the creates' own writes drain out of the window
        row(f"1 node, {size} sessions")
    have = 0
    for total in foreign:
        add_foreign(r, total - have, start=have)
        have = total
        row(f"1 node, {running} own + {total} elsewhere")
    added = 0
    for count in peers:
        add_nodes(r, count - added, start=added)
        added = count
        row(f"+ {count} other live nodes")
    return rows


def redis_client(url: str) -> redis.Redis:
    """A plain client for INFO and set-up."""
    return redis.Redis.from_url(url, decode_responses=True)
