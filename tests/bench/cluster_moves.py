"""Sessions that move (bench_cluster.py's second half): real daemons as nodes on a real Redis,
real Chrome on the WhatsApp simulator, logins through the simulator's phone, snapshots through
a shared directory. Timed from the outside (the test's monotonic clock), polling the API:

- kill -9 of the node running k logged-in sessions (the daemon and its whole tree): seconds
  until every one is claimed by another node, and until every one is WORKING there (no QR);
- drain of a node: how long the drain call takes (stop in order, snapshot, hand over), and
  until every moved session is WORKING elsewhere;
- Redis stopped (SIGTERM, AOF written) and started again at once, then after an outage of two
  leases: seconds until every node renewed its lease, until every session was WORKING, and
  how many sessions were restarted (a node whose lease surely lapsed stops its sessions);
- SIGSTOP of a node (frozen past its lease): seconds until its worker killed Chrome by itself,
  and until the session was WORKING elsewhere.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cluster import Cluster, chromes_of, cluster_of
from tests.support.daemon import Daemon
from tests.support.procs import kill_marked, wait_until
from tests.support.redis import RedisServer
from tests.support.wa import login
from tests.wasim import RunningSimulator

__all__ = ["moves"]


def _phone(i: int) -> str:
    return f"2449297{83000 + i}"


def _state_anywhere(cluster: Cluster, session_id: str, via: Daemon | None = None) -> str | None:
    owner = cluster.owners(via).get(session_id)
    if owner is None:
        return None
    d = cluster.node(owner)
    if d.proc is None or d.proc.poll() is not None:
        return None
    status, _, body = d.call("GET", f"/api/sessions/{session_id}/status")
    return str(body["state"]) if status == 200 else None


def _until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``predicate`` holds (polled every 50 ms)."""
    started = time.monotonic()
    wait_until(predicate, timeout=timeout, interval=0.05, message=what)
    return time.monotonic() - started


def _settled(cluster: Cluster, since: float) -> None:
    """Let the nodes' calm after joining pass (no takeover in the first 4/3 of a lease after a
    node joins; a real cluster's nodes have run for long): the times then are a failover's."""
    time.sleep(max(0.0, since + cluster.lease_s * 4 / 3 + 0.5 - time.monotonic()))


def _logged_in(d: Daemon, sim: RunningSimulator, ids: list[str], first_phone: int) -> None:
    for sid in ids:
        d.client.post("/api/sessions", {"id": sid, "node": d.workdir.name})
    for i, sid in enumerate(ids):
        login(d, sim, sid, _phone(first_phone + i))
    wait_until(lambda: {e["session_id"] for e in d.events("cluster.snapshot_saved")} >= set(ids),
               timeout=60 + 10 * len(ids), message="every login's snapshot")
    for sid in ids:
        d.wait_state(sid, "WORKING", timeout=60)


def _kill_and_drain(cluster: Cluster, sim: RunningSimulator, k: int, first_phone: int, since: float) -> None:
    n1 = cluster.nodes[0]
    ids = [f"fo{k}x{i}" for i in range(k)]
    _logged_in(n1, sim, ids, first_phone)
    _settled(cluster, since)
    devices = {c["client_id"] for c in sim.clients() if c["phone"]}
    n1.kill()
    started = time.monotonic()
    kill_marked(n1.state_dir)
    wait_until(lambda: all(o not in (None, "n1") for o in (cluster.owners().get(s) for s in ids)),
               timeout=120, interval=0.05, message="every session claimed elsewhere")
    claimed = time.monotonic() - started
    wait_until(lambda: all(_state_anywhere(cluster, s) == "WORKING" for s in ids), timeout=180,
               interval=0.1, message="every session WORKING elsewhere")
    working = time.monotonic() - started
    same = {c["client_id"] for c in sim.clients() if c["phone"]} == devices
    print(f"  kill -9, {k} logged-in: claimed elsewhere {claimed:5.1f} s, all WORKING {working:5.1f} s "
          f"after the kill (lease {cluster.lease_s:g} s; {'same devices, no QR' if same else 'NEW LOGIN'})",
          flush=True)
    owners = cluster.owners()
    busiest = max(("n2", "n3"), key=lambda n: list(owners.values()).count(n))
    moving = [s for s, o in owners.items() if o == busiest and s in ids]
    d = cluster.node(busiest)
    started = time.monotonic()
    moved = d.client.post(f"/api/cluster/nodes/{busiest}/drain")["moved"]
    call_s = time.monotonic() - started
    wait_until(lambda: all(_state_anywhere(cluster, s) == "WORKING" for s in moving), timeout=180,
               interval=0.1, message="the drained sessions WORKING elsewhere")
    print(f"  drain of {busiest}, {len(moved)} logged-in: the call {call_s:5.2f} s, all WORKING "
          f"elsewhere {time.monotonic() - started:5.1f} s after it began", flush=True)
    d.client.post(f"/api/cluster/nodes/{busiest}/undrain")


def _worker_pids(cluster: Cluster) -> dict[str, Any]:
    pids = {}
    for d in cluster.nodes:
        if d.proc is not None and d.proc.poll() is None:
            for s in d.client.get("/api/sessions")["sessions"]:
                if s.get("node") == d.workdir.name:
                    pids[s["id"]] = s.get("worker_pid")
    return pids


def _redis_down(cluster: Cluster, redis_server: RedisServer, down_s: float) -> None:
    """Redis stopped (SIGTERM: AOF written out) for ``down_s``, then started again."""
    before = _worker_pids(cluster)
    alive = [n["node"] for n in cluster.status()["nodes"] if n["alive"]]
    redis_server.stop()
    time.sleep(down_s)  # the outage being measured: its length is the experiment's input
    redis_server.start()
    up = time.monotonic()
    # Renewed since Redis answered again: the lease's age (Redis time) is younger than that.
    renewed = _until(lambda: all(n["lease_age_s"] is not None and n["lease_age_s"] < time.monotonic() - up
                                 for n in cluster.status()["nodes"] if n["node"] in alive),
                     timeout=60, what="every node renewed")
    working = _until(lambda: all(_state_anywhere(cluster, s) == "WORKING" for s in before),
                     timeout=120, what="every session WORKING")
    after = _worker_pids(cluster)
    print(f"  Redis down {down_s:4.1f} s (SIGTERM, AOF replayed at start): every node renewed {renewed:4.2f} s "
          f"after Redis answered again, all WORKING {working:4.2f} s later; sessions restarted: "
          f"{sum(before[s] != after.get(s) for s in before)} of {len(before)}", flush=True)


def _freeze(cluster: Cluster, sim: RunningSimulator, first_phone: int, since: float) -> None:
    n1, n2 = cluster.nodes[:2]
    _logged_in(n1, sim, ["frozen"], first_phone)
    _settled(cluster, since)
    assert n1.proc is not None
    os.kill(n1.proc.pid, signal.SIGSTOP)
    try:
        fenced = _until(lambda: not chromes_of(n1, "frozen"), timeout=60, what="Chrome fenced")
        # Ask n2 only: a request about the session to (or through) the frozen node would hang.
        working = _until(lambda: cluster.owners(n2).get("frozen") == "n2"
                         and _state_anywhere(cluster, "frozen", n2) == "WORKING", timeout=120, what="WORKING on n2")
    finally:
        os.kill(n1.proc.pid, signal.SIGCONT)
    print(f"  SIGSTOP of a node, 1 logged-in: its Chrome killed by its worker {fenced:4.1f} s, WORKING "
          f"elsewhere {fenced + working:4.1f} s after the freeze (lease {cluster.lease_s:g} s)", flush=True)
    thawed = _until(lambda: not any(s["id"] == "frozen" and s.get("node") == "n1"
                                    for s in n1.client.get("/api/sessions")["sessions"]),
                    timeout=60, what="n1 lets it go")
    print(f"    thawed: n1 forgot it {thawed:4.1f} s later, Chromes of it on n1: {len(chromes_of(n1, 'frozen'))}",
          flush=True)


def moves(base: Path, redis_server: RedisServer, sim: RunningSimulator, counts: list[int],
          lease_s: float, freeze: bool) -> None:
    """Every scenario above, each k of ``counts`` on a fresh 3-node cluster; printed."""
    phone = 0
    for k in counts:
        redis_server_flush(redis_server)
        (base / f"shared{k}").mkdir(mode=0o700, parents=True, exist_ok=True)
        snaps = {"url": f"file://{base / f'shared{k}'}", "every_h": 0.0}
        with cluster_of(base / f"c{k}", redis_server, sim, 3, snaps, lease_s=lease_s) as cluster:
            _kill_and_drain(cluster, sim, k, phone, time.monotonic())
            phone += k
            _redis_down(cluster, redis_server, 0.0)
            _redis_down(cluster, redis_server, 2 * lease_s)
    if freeze:
        redis_server_flush(redis_server)
        (base / "sharedf").mkdir(mode=0o700, parents=True, exist_ok=True)
        snaps = {"url": f"file://{base / 'sharedf'}", "every_h": 0.0}
        with cluster_of(base / "cf", redis_server, sim, 2, snaps, lease_s=lease_s) as cluster:
            _freeze(cluster, sim, phone, time.monotonic())


def redis_server_flush(server: RedisServer) -> None:
    """Empty the Redis between clusters (each starts from nothing)."""
    import redis

    client = redis.Redis.from_url(server.url)
    try:
        client.flushall()
    finally:
        client.close()
