"""Benchmark: what a zapvisor cluster costs its Redis, and how fast sessions move between nodes.

Everything real: Debian's redis-server (AOF on, as tests/support/redis.py runs it), zapvisor
daemons as nodes, Chrome, the WhatsApp Web simulator for logins. Printed:

1. ``load``: one node's Redis load (script calls and commands per second, bytes per second in
   and out, Redis's time) with 0, 1, 10, 50 sessions running (``driver = "basic"`` on a static
   page: the coordination's cost, not WhatsApp's), then with 1,000 and 10,000 sessions of
   another live node in the cluster, then with 10 and 100 other live nodes; a window of
   ``--window-s`` each, read from Redis's own counters (cluster_load.py);
2. ``coord``: single round trips (cluster_coord.py): a verify of 100 / 1,000 / 10,000 tokens,
   listing nodes, finding orphans, reading every session, the lease renewal (idle, and behind
   other clients' reads);
3. ``moves``: kill -9 of a node with 1 and 5 logged-in sessions (to WORKING elsewhere, no
   QR), the drain of a node, a Redis restart, a node frozen with SIGSTOP (cluster_moves.py);
4. ``snapshots``: tests/bench/bench_snapshots.py (sizes and times of a login's snapshot).

    .venv/bin/python tests/bench/bench_cluster.py [--phases load,coord,moves,snapshots]
        [--sizes 0,1,10,50] [--foreign 1000,10000] [--peers 10,100] [--window-s 30] [--lease-s 10]
        [--moves 1,5] [--moves-lease-s 3]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from supervisor.logs import configure  # noqa: E402
from tests.bench.cluster_coord import print_coord_costs  # noqa: E402
from tests.bench.cluster_load import Load, node_load, redis_client  # noqa: E402
from tests.bench.cluster_moves import moves  # noqa: E402
from tests.support.daemon import Daemon  # noqa: E402
from tests.support.pages import PageServer  # noqa: E402
from tests.support.procs import kill_marked  # noqa: E402
from tests.support.redis import RedisServer  # noqa: E402
from tests.support.wa import fast_simulator  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def load_phase(work: Path, args: argparse.Namespace) -> None:
    sizes, foreign, peers = _ints(args.sizes), _ints(args.foreign), _ints(args.peers)
    print(f"\n1. one node's Redis load (lease_s {args.lease_s:g}: a renewal and a watch every "
          f"{args.lease_s / 3:.2f} s; window {args.window_s:g} s each; basic driver, sessions running):")
    with RedisServer(work / "redis-load") as server, PageServer() as pages:
        r = redis_client(server.url)
        port = _free_port()
        (work / "load").mkdir(parents=True, exist_ok=True)
        d = Daemon(work / "load", port, pages.url("/"), logging={"level": "warning"},
                   sessions={"max_sessions": max(sizes + [1]) + 10, "max_concurrent_starts": 2},
                   cluster={"redis_url": server.url, "node_id": "load", "lease_s": args.lease_s,
                            "advertise_url": f"http://127.0.0.1:{port}"})
        d.start()
        try:
            rows = node_load(d, r, sizes, foreign, peers, args.window_s)
        finally:
            d.stop()
            kill_marked(d.state_dir)
            r.close()
    by = dict(rows)
    low, high = f"1 node, {sizes[0]} sessions", f"1 node, {sizes[-1]} sessions"
    if sizes[-1] > sizes[0]:
        _per(f"per running session ({low} -> {high})", by[low], by[high], sizes[-1] - sizes[0])
    if foreign:
        _per("per session of another live node", by[high], by[f"1 node, {sizes[-1]} own + {foreign[-1]} elsewhere"],
             foreign[-1])
    if peers:
        _per("per other live node", by[f"1 node, {sizes[-1]} own + {foreign[-1]} elsewhere" if foreign else high],
             by[f"+ {peers[-1]} other live nodes"], peers[-1])


def _per(label: str, a: Load, b: Load, n: int) -> None:
    print(f"  {label}: {(b.per_s(b.executed) - a.per_s(a.executed)) / n:.3f} cmds/s, "
          f"{(b.per_s(b.net_in + b.net_out) - a.per_s(a.net_in + a.net_out)) / n:.1f} B/s, "
          f"{(b.per_s(b.busy_s) - a.per_s(a.busy_s)) / n * 1e6:.2f} us busy/s")


def coord_phase(work: Path, args: argparse.Namespace) -> None:
    print("\n2. coordination round trips against a real redis-server (loopback, one client):")
    with RedisServer(work / "redis-coord") as server:
        r = redis_client(server.url)
        try:
            print_coord_costs(server.url, r, rounds=args.rounds)
        finally:
            r.close()


def moves_phase(work: Path, args: argparse.Namespace) -> None:
    print(f"\n3. sessions that move (3 nodes, lease_s {args.moves_lease_s:g}, WhatsApp simulator, "
          "snapshots in a shared directory):")
    with RedisServer(work / "redis-moves") as server, fast_simulator(ref_ttl_s=20.0) as sim:
        moves(work / "moves", server, sim, _ints(args.moves), args.moves_lease_s, freeze=True)


def snapshots_phase(args: argparse.Namespace) -> None:
    print("\n4. snapshots (tests/bench/bench_snapshots.py):", flush=True)
    subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / "bench_snapshots.py"),
                    "--rounds", str(min(args.rounds, 5)), "--pad-mb", "0,50"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phases", default="load,coord,moves,snapshots")
    parser.add_argument("--sizes", default="0,1,10,50", help="sessions running on the node, ascending")
    parser.add_argument("--foreign", default="1000,10000", help="sessions of another node, ascending")
    parser.add_argument("--peers", default="10,100", help="other live nodes, ascending")
    parser.add_argument("--window-s", type=float, default=30.0)
    parser.add_argument("--lease-s", type=float, default=10.0, help="[cluster] lease_s of the load phase")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--moves", default="1,5", help="logged-in sessions per kill -9")
    parser.add_argument("--moves-lease-s", type=float, default=3.0)
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    configure("warning", "console")
    work = Path(tempfile.mkdtemp(prefix="zapbench-cluster-")).resolve()
    began = time.monotonic()
    print(f"bench_cluster: redis-server {_redis_version()}, {_cores()} cores", flush=True)
    if "load" in phases:
        load_phase(work, args)
    if "coord" in phases:
        coord_phase(work, args)
    if "moves" in phases:
        moves_phase(work, args)
    if "snapshots" in phases:
        snapshots_phase(args)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n(whole run {time.monotonic() - began:.0f} s)")


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    return next((w[2:] for w in out.split() if w.startswith("v=")), "?")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
