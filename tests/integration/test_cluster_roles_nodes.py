"""Roles across a cluster of two real daemons on one real Redis, their sessions on the WhatsApp
simulator: a role set on one node is every node's, a send by role through any node goes
round-robin over the role's WORKING sessions on both nodes, and a Redis that comes back empty
(a FLUSHALL) loses nothing: no session stops or moves, tokens go on rising, and the roles come
back from the node that set them. A node retired: its stopped session is taken over, and the
node forgotten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from tests.integration.test_cli import zapvisor
from tests.integration.test_cluster import _create, _logged_in_and_saved, _pid, _shared
from tests.support.cluster import cluster_of
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.redis import RedisServer
from tests.support.wa import PHONE_A, PHONE_B
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome


def _send_by_role(d: Daemon, text: str) -> str:
    status, _, body = d.call("POST", "/api/send", {"role": "sales", "to": "5511988887777", "text": text})
    assert status in (201, 202), body
    return str(body["session"])


def _sales(d: Daemon) -> dict[str, Any]:
    status, _, body = d.call("GET", "/api/roles/sales")
    return dict(body) if status == 200 else {}


def test_roles_are_the_clusters_and_survive_a_redis_that_lost_its_data(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    with cluster_of(workdir, redis_server, sim, 2, _shared(workdir)) as cluster:
        n1, n2 = cluster.nodes
        for session_id, node in (("r1", "n1"), ("r2", "n2"), ("idle", "n2")):
            _create(n1, session_id, node=node, start=session_id != "idle")
        # Logged in, and each login snapshotted (through a recycle: done before pids are taken).
        _logged_in_and_saved(cluster, n1, sim, {"r1": PHONE_A})
        _logged_in_and_saved(cluster, n2, sim, {"r2": PHONE_B})
        # Set through n1, with a session of each node: n2 shows it, both WORKING.
        assert n1.client.request("PUT", "/api/roles/sales", {"sessions": ["r1", "r2"]})["sessions"] == ["r1", "r2"]
        wait_until(lambda: _sales(n2).get("working") == ["r1", "r2"], timeout=15,
                   message=f"n2 sees both sessions of the role WORKING: {_sales(n2)}")
        assert n2.client.get("/api/roles")["roles"] == [{"role": "sales", "sessions": ["r1", "r2"],
                                                         "working": ["r1", "r2"]}]
        # Sends by role through either node alternate between the two nodes' sessions.
        picked = [_send_by_role(d, f"m{i}") for i, d in enumerate((n2, n2, n1, n2))]
        assert picked == ["r1", "r2", "r1", "r2"], picked
        for phone, texts in ((PHONE_A, ["m0", "m2"]), (PHONE_B, ["m1", "m3"])):
            wait_until(lambda: [m["body"] for m in sim.sent(phone=phone)] == texts, timeout=30,  # noqa: B023
                       message=f"{texts} sent from {phone}: {sim.sent(phone=phone)}")  # noqa: B023
        # The legacy view of the roles names both numbers, from whichever node.
        assignments = n2.client.get("/api/current-assignments")["assignments"]["sales"]
        assert [(m["sessionId"], m["status"]) for m in assignments["sessions"]] == [
            ("r1", "WORKING"), ("r2", "WORKING")]
        before = {s["session"]: s["token"] for s in cluster.status()["sessions"]}
        pids = {s: _pid(cluster, s) for s in ("r1", "r2")}
        owners = cluster.owners()

        redis.Redis.from_url(redis_server.url).flushall()

        wait_until(lambda: all(d.events("cluster.redis_data_lost") for d in cluster.nodes)
                   and cluster.owners() == owners, timeout=30,
                   message=f"both nodes put their sessions back: {cluster.owners()}\n"
                           + "\n".join(line for d in cluster.nodes for line in d.log().splitlines()
                                       if "cluster" in line or "error" in line)[-4000:])
        after = {s["session"]: s["token"] for s in cluster.status()["sessions"]}
        # Never back to 1 where a token was handed out since the node's own (a stopped session
        # never snapshotted has nothing to fence: it goes on from its first).
        assert after["r1"] > before["r1"] and after["r2"] > before["r2"] and after["idle"] >= 1, (before, after)
        assert {s: _pid(cluster, s) for s in pids} == pids  # nothing stopped, nothing moved
        assert not any(d.events("session.forgotten") or d.events("cluster.fenced") for d in cluster.nodes)
        wait_until(lambda: _sales(n2).get("working") == ["r1", "r2"], timeout=15,
                   message=f"the role back, both WORKING: {_sales(n2)}")
        assert {_send_by_role(n2, f"after{i}") for i in range(2)} == {"r1", "r2"}
        # The ids are the cluster's again: the idle session's id is taken on every node.
        status, _, body = n1.call("POST", "/api/sessions", {"id": "idle"})
        assert status == 409, body
        # A deleted session leaves its role, cluster-wide.
        assert n1.client.delete("/api/sessions/r2")["deleted"] is True
        wait_until(lambda: _sales(n1).get("sessions") == ["r1"], timeout=10,
                   message=f"r2 out of the role: {_sales(n1)}")

        # n2 retires: its stopped session is taken over (kept stopped), then n2 is forgotten.
        n2.kill()
        status, _, body = n1.call("DELETE", "/api/cluster/nodes/n2")
        assert status == 409 and "alive" in body["error"]["message"], body  # its lease runs on
        wait_until(lambda: cluster.owners().get("idle") == "n1", timeout=cluster.lease_s * 4,
                   message=f"the stopped session taken over: {cluster.owners()}")
        assert n1.client.get("/api/sessions/idle")["state"] == "STOPPED"
        forgot = zapvisor("node", "forget", "n2", config=n1.config_path)
        assert forgot.returncode == 0 and "n2: forgotten" in forgot.stdout, forgot.stderr
        assert [n["node"] for n in cluster.status()["nodes"]] == ["n1"]
        again = zapvisor("node", "forget", "n2", config=n1.config_path)
        assert again.returncode != 0 and "no node 'n2'" in again.stderr and len(again.stderr.splitlines()) == 1
