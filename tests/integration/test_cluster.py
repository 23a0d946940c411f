"""A zapvisor cluster on this box: three real daemons as three nodes on one real Redis, their
sessions on the WhatsApp simulator, profiles moving through a shared directory or a real S3 API
(moto's server). Placement, one API on every node, failover after kill -9 without a new QR, a
frozen node that fences itself, drain, and a Redis restart that starts nothing twice."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import zapvisor
from tests.integration.test_send_rules import _first_login
from tests.support.cluster import Cluster, chromes_of, cluster_of
from tests.support.daemon import Daemon
from tests.support.procs import kill_marked, wait_until
from tests.support.receiver import Receiver
from tests.support.redis import RedisServer
from tests.support.s3 import MotoServer
from tests.support.wa import PHONE_A, PHONE_B, login
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome


def _shared(workdir: Path) -> dict[str, Any]:
    (workdir / "shared").mkdir(mode=0o700, exist_ok=True)
    return {"url": f"file://{workdir / 'shared'}", "every_h": 0.0}


def _create(d: Daemon, session_id: str, **body: Any) -> dict[str, Any]:
    status, _, answer = d.call("POST", "/api/sessions", {"id": session_id, **body})
    assert status == 201, answer
    return dict(answer)


def _state_anywhere(cluster: Cluster, session_id: str) -> str | None:
    owner = cluster.owners().get(session_id)
    if owner is None:
        return None
    d = cluster.node(owner)
    if d.proc is None or d.proc.poll() is not None:
        return None  # its node is down: the session is between nodes
    status, _, body = d.call("GET", f"/api/sessions/{session_id}/status")
    return str(body["state"]) if status == 200 else None


class OneChrome:
    """Counts, at every look, the Chromes running ``sessions`` across the nodes: never two."""

    def __init__(self, cluster: Cluster, sessions: list[str]) -> None:
        self.cluster, self.sessions = cluster, sessions

    def check(self) -> None:
        for session_id in self.sessions:
            running = [d.workdir.name for d in self.cluster.nodes if chromes_of(d, session_id)]
            assert len(running) <= 1, f"{session_id} runs on {running} at once"

    def until(self, predicate: Any, timeout: float, message: str) -> None:
        def look() -> bool:
            self.check()
            return bool(predicate())

        wait_until(look, timeout=timeout, interval=0.1, message=message)


def _logged_in_and_saved(cluster: Cluster, d: Daemon, sim: RunningSimulator, sessions: dict[str, str]) -> None:
    """Log each session (on ``d``) in with its phone; wait for its login's snapshot."""
    for session_id, phone in sessions.items():
        login(d, sim, session_id, phone)
    wait_until(lambda: {e["session_id"] for e in d.events("cluster.snapshot_saved")} >= set(sessions),
               timeout=60, message=f"the logins' snapshots\n{d.log()[-3000:]}")
    for session_id in sessions:
        d.wait_state(session_id, "WORKING", timeout=30)


def test_sessions_spread_over_the_nodes_and_every_node_answers_for_every_session(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    with cluster_of(workdir, redis_server, sim, 3, _shared(workdir)) as cluster:
        n1, n2, n3 = cluster.nodes
        for i in range(6):
            _create(n1, f"s{i}")
        owners = cluster.owners()
        assert sorted(owners) == [f"s{i}" for i in range(6)]
        assert sorted(list(owners.values()).count(n) for n in ("n1", "n2", "n3")) == [2, 2, 2], owners
        # Any node lists them all, each with its node, and answers for each one.
        listed = n3.client.get("/api/sessions")["sessions"]
        assert {s["id"]: s["node"] for s in listed} == owners
        for session_id, owner in owners.items():
            for d in (n1, n2, n3):
                status, _, body = d.call("GET", f"/api/sessions/{session_id}")
                assert status == 200 and body["id"] == session_id, (d.workdir.name, body)
                assert body["profile_dir"].startswith(str(cluster.node(owner).state_dir)), body
        elsewhere = next(s for s, o in owners.items() if o != "n2")
        assert n2.client.post(f"/api/sessions/{elsewhere}/stop")["state"] == "STOPPED"
        assert n2.client.delete(f"/api/sessions/{elsewhere}")["deleted"] is True
        assert elsewhere not in cluster.owners()
        # A session asks for its node; an id the cluster knows is taken on every node.
        _create(n1, "pinned", node="n3", start=False)
        assert cluster.owners()["pinned"] == "n3"
        status, _, body = n2.call("POST", "/api/sessions", {"id": "pinned"})
        assert status == 409, body
        status, _, body = n1.call("POST", "/api/sessions", {"id": "nowhere", "node": "n9"})
        assert status == 400 and "n9" in body["error"]["message"]
        # The cluster as any node tells it, to the API and to the CLI.
        view = n2.client.get("/api/cluster")
        assert view["node"] == "n2" and [n["node"] for n in view["nodes"]] == ["n1", "n2", "n3"]
        assert all(n["alive"] for n in view["nodes"])
        shown = zapvisor("cluster", "status", config=n3.config_path)
        assert shown.returncode == 0, shown.stderr
        assert "node n3" in shown.stdout and "pinned" in shown.stdout and "n1 " in shown.stdout
        listed_json = json.loads(zapvisor("cluster", "status", "--json", config=n1.config_path).stdout)
        assert {s["session"]: s["node"] for s in listed_json["sessions"]} == cluster.owners()


def test_a_killed_node_s_sessions_come_back_working_elsewhere_without_a_qr_and_never_twice(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    with cluster_of(workdir, redis_server, sim, 3, _shared(workdir)) as cluster:
        n1, n2, n3 = cluster.nodes
        sessions = {"alpha": PHONE_A, "beta": PHONE_B}
        for session_id in sessions:
            _create(n2, session_id, node="n1")
        _logged_in_and_saved(cluster, n1, sim, sessions)
        devices = {c["client_id"] for c in sim.clients() if c["phone"]}
        n3.client.request("PATCH", "/api/sessions/alpha", {"metadata": {"team": "sales"}})
        logins = {s: _first_login(n1, s) for s in sessions}
        assert all(at is not None for _, at in logins.values()), logins
        guard = OneChrome(cluster, list(sessions))
        # The host dies: the daemon and everything it ran, at once.
        n1.kill()
        kill_marked(n1.state_dir)
        killed = time.monotonic()
        guard.until(lambda: all(_state_anywhere(cluster, s) == "WORKING" for s in sessions), timeout=90,
                    message=f"both sessions WORKING on the other nodes\n{n2.log()[-2000:]}\n{n3.log()[-2000:]}")
        print(f"failover: WORKING elsewhere {time.monotonic() - killed:.1f}s after kill -9 "
              f"(lease {cluster.lease_s:g}s)")
        owners = cluster.owners(n2)
        assert set(owners.values()) <= {"n2", "n3"}, owners
        assert n2.client.get("/api/sessions/alpha")["metadata"] == {"team": "sales"}
        # Each number's login date moved with it (its send warm-up goes on, not over).
        assert {s: _first_login(cluster.node(str(owners[s])), s) for s in sessions} == logins
        # The same linked devices, logged in from the snapshots: nobody scanned anything.
        assert {c["client_id"] for c in sim.clients() if c["phone"]} == devices
        # The dead node comes back: it runs nothing of what moved.
        n1.start()
        wait_until(lambda: {e["session_id"] for e in n1.events("session.forgotten")} >= set(sessions)
                   or not n1.client.get("/api/sessions")["sessions"], timeout=30,
                   message=f"n1 forgets what moved\n{n1.log()[-3000:]}")
        guard.until(lambda: all(n["alive"] for n in cluster.status(n1)["nodes"]), timeout=30,
                    message="n1's lease live again")
        assert all(not chromes_of(n1, s) for s in sessions)
        assert cluster.owners(n1) == owners
        assert all(_state_anywhere(cluster, s) == "WORKING" for s in sessions)


def test_a_frozen_node_fences_itself_and_its_session_moves_through_s3(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator, moto: MotoServer) -> None:
    snapshots = {"url": f"s3://{moto.bucket}/zv", "endpoint_url": moto.url, "access_key_id": "testing",
                 "secret_access_key": "testing-secret", "every_h": 0.0}
    with cluster_of(workdir, redis_server, sim, 2, snapshots) as cluster:
        n1, n2 = cluster.nodes
        _create(n1, "gamma", node="n1")
        _logged_in_and_saved(cluster, n1, sim, {"gamma": PHONE_A})
        guard = OneChrome(cluster, ["gamma"])
        assert n1.proc is not None
        os.kill(n1.proc.pid, signal.SIGSTOP)
        asked: list[tuple[int, dict[str, Any]]] = []  # a request forwarded to the frozen node
        asking = threading.Thread(target=lambda: asked.append(n2.call("GET", "/api/sessions/gamma")[::2]))
        asking.start()
        try:
            # It is not left hanging: once n1's lease expired, the client hears the session moves.
            wait_until(lambda: bool(asked), timeout=cluster.lease_s * 4, message="the forwarded request answered")
            assert asked[0][0] == 503 and "stopped answering" in asked[0][1]["error"]["message"], asked
            # Its worker stops vouching for Chrome before the lease can expire in Redis.
            guard.until(lambda: not chromes_of(n1, "gamma"), timeout=cluster.lease_s * 3,
                        message="the frozen node's Chrome fenced")
            guard.until(lambda: cluster.owners(n2).get("gamma") == "n2"
                        and n2.client.get("/api/sessions/gamma/status")["state"] == "WORKING",
                        timeout=90, message=f"gamma WORKING on n2\n{n2.log()[-3000:]}")
        finally:
            os.kill(n1.proc.pid, signal.SIGCONT)
            asking.join(timeout=60)
        # Thawed, n1 finds its token stale: it starts nothing and answers through n2.
        wait_until(lambda: "gamma" not in {s["id"] for s in n1.client.get("/api/sessions")["sessions"]
                                           if s.get("node") == "n1"},
                   timeout=30, message=f"n1 lets gamma go\n{n1.log()[-3000:]}")
        assert not chromes_of(n1, "gamma")
        assert [e["session_id"] for e in n1.events("session.forgotten")] == ["gamma"]
        assert n1.client.get("/api/sessions/gamma/status")["state"] == "WORKING"


def test_drain_moves_every_session_off_a_node_and_undrain_lets_it_take_new_ones(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    with cluster_of(workdir, redis_server, sim, 2, _shared(workdir),
                    webhooks={"allow_private_networks": True}) as cluster, Receiver() as rx:
        n1, n2 = cluster.nodes
        sessions = {"delta": PHONE_A, "epsilon": PHONE_B}
        for session_id in sessions:
            _create(n1, session_id, node="n1")
        n2.client.request("PUT", "/api/sessions/delta/webhooks", {"webhooks": [{"url": rx.url("/delta")}]})
        _logged_in_and_saved(cluster, n1, sim, sessions)
        guard = OneChrome(cluster, list(sessions))
        drained = zapvisor("node", "drain", "n1", "--json", config=n2.config_path)  # asked of n2
        assert drained.returncode == 0, drained.stderr
        assert sorted(json.loads(drained.stdout)["moved"]) == sorted(sessions)
        guard.until(lambda: all(_state_anywhere(cluster, s) == "WORKING" for s in sessions), timeout=90,
                    message=f"both sessions WORKING on n2\n{n2.log()[-3000:]}")
        assert set(cluster.owners().values()) == {"n2"}
        # delta's own webhook moved with it: n2's events of delta reach it too.
        assert [h["url"] for h in n2.client.get("/api/sessions/delta/webhooks")["webhooks"]] == [rx.url("/delta")]
        wait_until(lambda: any(r.event["node"] == "n2" and r.event["payload"].get("state") == "WORKING"
                               for r in rx.accepted()), timeout=30, message="delta's WORKING on n2 at its webhook")
        assert [n["draining"] for n in cluster.status()["nodes"]] == [True, False]
        assert _create(n1, "zeta", start=False) and cluster.owners()["zeta"] == "n2"
        n1.client.post("/api/cluster/nodes/n1/undrain")
        assert [n["draining"] for n in cluster.status()["nodes"]] == [False, False]
        wait_until(lambda: cluster.status()["nodes"][1]["sessions"] == 2, timeout=10,
                   message="n2's load renewed")
        _create(n2, "eta", start=False)
        assert cluster.owners()["eta"] == "n1"


def test_a_redis_restart_keeps_every_session_running_and_starts_nothing_twice(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    with cluster_of(workdir, redis_server, sim, 2, _shared(workdir)) as cluster:
        n1, n2 = cluster.nodes
        _one_waiting_on_each(cluster, "theta", "iota")
        pids = {s: _pid(cluster, s) for s in ("theta", "iota")}
        owners = cluster.owners()
        redis_server.restart()
        # Each node renews again, its watch verifies its tokens (a verify that failed would
        # have stopped the session: its worker pid would change).
        wait_until(lambda: all(n["alive"] and n["lease_age_s"] < cluster.lease_s / 3
                               for n in cluster.status()["nodes"]),
                   timeout=30, message="every node renewed its lease after the restart")
        assert cluster.owners() == owners
        assert {s: _pid(cluster, s) for s in pids} == pids
        assert not any(d.events("session.forgotten") or d.events("cluster.fenced") for d in cluster.nodes)


def _one_waiting_on_each(cluster: Cluster, *sessions: str) -> None:
    """Create the i-th of ``sessions`` on node n<i+1> (through n1); each showing its QR code."""
    for i, session_id in enumerate(sessions, start=1):
        _create(cluster.nodes[0], session_id, node=f"n{i}")
    for i, session_id in enumerate(sessions):
        cluster.nodes[i].wait_state(session_id, "SCAN_QR_CODE", timeout=30)


def _pid(cluster: Cluster, session_id: str) -> int:
    owner = cluster.owners()[session_id]
    assert owner is not None
    pid = cluster.node(owner).client.get(f"/api/sessions/{session_id}")["worker_pid"]
    assert isinstance(pid, int)
    return pid


def test_a_redis_outage_longer_than_the_lease_stops_every_chrome_then_they_come_back(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    """Cut off from Redis past its lease, a node cannot know whether another took its sessions:
    every Chrome stops (the workers' own leases run out first). Once Redis answers again, each
    session starts again where it was, and nowhere else."""
    with cluster_of(workdir, redis_server, sim, 2, _shared(workdir)) as cluster:
        n1, n2 = cluster.nodes
        _one_waiting_on_each(cluster, "kappa", "lambda")
        owners = cluster.owners()
        guard = OneChrome(cluster, ["kappa", "lambda"])
        redis_server.stop()
        try:
            guard.until(lambda: not chromes_of(n1, "kappa") and not chromes_of(n2, "lambda"),
                        timeout=cluster.lease_s * 3, message="every Chrome fenced")
            assert {e["session_id"] for d in cluster.nodes for e in d.events("worker.fenced")} == set(owners)
        finally:
            redis_server.start()
        guard.until(lambda: n1.client.get("/api/sessions/kappa/status")["state"] == "SCAN_QR_CODE"
                    and n2.client.get("/api/sessions/lambda/status")["state"] == "SCAN_QR_CODE",
                    timeout=60, message=f"both sessions back\n{n1.log()[-2000:]}")
        assert cluster.owners() == owners
        assert chromes_of(n1, "kappa") and chromes_of(n2, "lambda")
