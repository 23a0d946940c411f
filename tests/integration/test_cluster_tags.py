"""Node tags and session affinity across three real daemons on one real Redis: a node tagged
through the CLI keeps its tags across its renewals; a session asking for tags (``node_tags``) is
placed only on a node that has them all, or refused naming what each node lacks; and when its
node dies it is taken over only by a node with the tags, waiting until one has them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli import zapvisor
from tests.integration.test_cluster import _create, _shared
from tests.support.cluster import cluster_of
from tests.support.procs import kill_marked, wait_until
from tests.support.redis import RedisServer
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome


def test_sessions_asking_for_tags_run_only_on_nodes_that_have_them(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    with cluster_of(workdir, redis_server, sim, 3, _shared(workdir)) as cluster:
        n1, n2, n3 = cluster.nodes
        tagged = zapvisor("node", "tag", "n3", "br", "sales", config=n1.config_path)
        assert tagged.returncode == 0 and "n3: tags br, sales" in tagged.stdout, tagged.stderr
        shown = zapvisor("cluster", "status", config=n2.config_path)
        assert "br,sales" in shown.stdout, shown.stdout
        # Stopped sessions (no Chrome): placement and takeover are what is tested.
        for session_id in ("br-1", "br-2"):
            created = _create(n1, session_id, start=False, node_tags=["br"])
            assert created["node_tags"] == ["br"], created
        _create(n1, "anywhere", start=False)
        owners = cluster.owners()
        assert (owners["br-1"], owners["br-2"]) == ("n3", "n3"), owners
        assert owners["anywhere"] != "n3"  # the emptiest node
        status, _, body = n2.call("POST", "/api/sessions", {"id": "nowhere", "node_tags": ["mx"]})
        assert status == 429 and "n1 lacks the tag(s) mx" in body["error"]["message"], body
        status, _, body = n2.call("POST", "/api/sessions", {"id": "pinned", "node": "n1", "node_tags": ["br"]})
        assert status == 409 and "node n1 lacks the tag(s) br" in body["error"]["message"], body
        status, _, body = n1.call("PUT", "/api/cluster/nodes/n3/tags", {"tags": ["bad tag"]})
        assert status == 400, body
        # Renewals keep the tags (they are the cluster's word, like draining).
        renewed = cluster.status()["nodes"][2]["lease_age_s"]
        wait_until(lambda: cluster.status()["nodes"][2]["lease_age_s"] < renewed, timeout=10,
                   message="n3 renewed its lease")
        assert cluster.status()["nodes"][2]["tags"] == ["br", "sales"]

        # n3 dies: no other node has "br", so its sessions wait; tagging n2 lets it take them.
        n3.kill()
        kill_marked(n3.state_dir)
        wait_until(lambda: not cluster.status(n1)["nodes"][2]["alive"], timeout=cluster.lease_s * 3,
                   message="n3's lease expired")
        wait_until(lambda: {e["session_id"] for e in n1.events("cluster.orphan_waiting")} == {"br-1", "br-2"},
                   timeout=cluster.lease_s * 3, message="n1 saw the orphans and that no node may take them")
        assert cluster.owners(n1).get("br-1") is None  # its node is down, nobody took it
        assert n1.client.request("PUT", "/api/cluster/nodes/n2/tags", {"tags": ["br"]})["tags"] == ["br"]
        wait_until(lambda: {cluster.owners(n1).get(s) for s in ("br-1", "br-2")} == {"n2"},
                   timeout=cluster.lease_s * 4, message=f"n2 takes both over: {cluster.owners(n1)}")
        assert n1.client.get("/api/sessions/br-1")["state"] == "STOPPED"
        assert not n1.events("cluster.takeover")
