"""Events across a cluster: real daemons as nodes on one real Redis, a real webhook receiver.
Any node streams every node's events and resumes by stream id; each webhook reaches its receiver
once, in order per session, from whichever node holds its session's shard; a node killed with
deliveries it had not finished leaves them to another node; a Redis restart loses nothing.

Sessions are created stopped (no Chrome): creating, changing and deleting them emits
``session.created``, ``session.updated`` and ``session.deleted``, which is all these tests need.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from supervisor.cluster.shards import preferred
from supervisor.cluster.streamids import SHARDS, key, shard_of
from tests.support.cluster import Cluster, cluster_of
from tests.support.daemon import API_KEY, Daemon
from tests.support.procs import wait_until
from tests.support.receiver import Received, Receiver
from tests.support.redis import RedisServer
from tests.support.sse import SSEClient
from tests.support.wa import PHONE_A, PHONE_B, login
from tests.wasim import RunningSimulator

SECRET = "cluster-hook-secret"
#: The receiver is on 127.0.0.1 (private: allowed here); retries are quick.
HOOKS = {"retry_initial_s": 0.05, "retry_max_s": 0.3, "timeout_s": 2.0, "allow_private_networks": True}


def _nodes(workdir: Path, redis: RedisServer, sim: RunningSimulator, count: int,
           rx: Receiver | None = None) -> Any:
    webhooks = {**HOOKS, "url": rx.url("/global"), "secret": SECRET} if rx is not None else HOOKS
    return cluster_of(workdir, redis, sim, count, {}, webhooks=webhooks)


def _url(d: Daemon, path: str) -> str:
    return f"http://127.0.0.1:{d.port}{path}"


def _metrics(d: Daemon) -> str:
    req = urllib.request.Request(_url(d, "/metrics"), headers={"X-Api-Key": API_KEY})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(resp.read().decode())


def _create(d: Daemon, session_id: str, node: str, **body: Any) -> None:
    status, _, answer = d.call("POST", "/api/sessions", {"id": session_id, "start": False, "node": node, **body})
    assert status == 201, answer


def _change(d: Daemon, session_id: str, n: int) -> None:
    status, _, answer = d.call("PATCH", f"/api/sessions/{session_id}", {"metadata": {"n": n}})
    assert status == 200, answer


def _accepted_by_session(rx: Receiver, path: str = "/global") -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for r in rx.accepted():
        if r.path == path:
            found.setdefault(r.event["session"] or "", []).append(r.event)
    return found


def _signed(r: Received, secret: str) -> bool:
    stamp = r.headers["X-Zapvisor-Timestamp"]
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + r.body, hashlib.sha256).hexdigest()
    return r.headers["X-Zapvisor-Signature"] == f"sha256={digest}"


def _names(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


def test_any_node_streams_every_node_s_events_and_resumes_by_stream_id(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    with _nodes(workdir, redis_server, sim, 2) as cluster:
        n1, n2 = cluster.nodes
        with SSEClient(_url(n2, "/api/events?events=session.*"), API_KEY) as stream:
            _create(n2, "alpha", "n1")
            _create(n1, "beta", "n2")
            for n in range(3):
                _change(n2, "alpha", n)
            first = [stream.read_until(lambda m: m.data["session"] in ("alpha", "beta"), timeout=20)
                     for _ in range(5)]
            # The stream is counted where it is served (from Redis, not the node's bus).
            assert n2.client.get("/api/stats")["events"]["sse_clients"] == 1
            assert "zapvisor_sse_clients 1.0" in _metrics(n2)
            assert n1.client.get("/api/stats")["events"]["sse_clients"] == 0
        assert sorted(m.data["node"] for m in first) == ["n1", "n1", "n1", "n1", "n2"]
        assert all(m.id == m.data["id"] and key(str(m.id)) > (0, 0) for m in first)
        assert [key(str(m.id)) for m in first] == sorted(key(str(m.id)) for m in first)
        alpha = [m for m in first if m.data["session"] == "alpha"]
        assert _names([m.data for m in alpha]) == ["session.created"] + ["session.updated"] * 3
        # Gone for a while: more events meanwhile; back on the other node, after the last seen.
        resume_after = first[-1].id
        for n in range(3, 6):
            _change(n1, "alpha", n)
        n1.client.delete("/api/sessions/beta")
        with SSEClient(_url(n1, "/api/events?events=session.*"), API_KEY, last_event_id=resume_after) as again:
            rest = [again.read_until(lambda m: True, timeout=20) for _ in range(4)]
        everything = n2.client.get("/api/events?format=json&limit=1000&events=session.*")["events"]
        ids = [e["id"] for e in everything]
        assert [m.id for m in rest] == ids[ids.index(resume_after) + 1:][:4]
        assert _names([m.data for m in rest]) == ["session.updated"] * 3 + ["session.deleted"]
        # One session's stream, asked of a node it does not run on, answered there from the stream.
        with SSEClient(_url(n2, "/api/sessions/alpha/events"), API_KEY, last_event_id="0") as mine:
            own = [mine.read_until(lambda m: True, timeout=20) for _ in range(7)]
        assert {m.data["session"] for m in own} == {"alpha"}
        assert [m.id for m in own] == [e["id"] for e in everything if e["session"] == "alpha"]
        assert n2.call("GET", "/api/events?last_event_id=12-x")[0] == 400
        assert n2.call("GET", "/api/sessions/nobody/events")[0] == 404



def _stream_ids(d: Daemon) -> dict[str, list[str]]:
    """Session ("": daemon-wide) -> the ids of its events in the cluster's stream, in order."""
    found: dict[str, list[str]] = {}
    for e in d.client.get("/api/events?format=json&limit=1000")["events"]:
        found.setdefault(e["session"] or "", []).append(e["id"])
    return found


def _delivered_once_in_order(rx: Receiver, d: Daemon, sessions: list[str], path: str = "/global") -> None:
    """Wait until ``rx`` accepted every event of ``sessions`` the stream holds; then check each
    was accepted once, in the stream's order per session."""
    expected = {s: ids for s, ids in _stream_ids(d).items() if s in sessions}
    assert set(expected) == set(sessions), expected

    def arrived() -> bool:
        got = _accepted_by_session(rx, path)
        return all(len(got.get(s, [])) >= len(ids) for s, ids in expected.items())

    wait_until(arrived, timeout=60, message=f"every event of {sessions} at {path}")
    got = _accepted_by_session(rx, path)
    assert {s: [e["id"] for e in got[s]] for s in sessions} == expected
    counts = Counter(r.headers["X-Zapvisor-Event-Id"] for r in rx.accepted() if r.path == path)
    assert max(counts.values()) == 1, [i for i, n in counts.items() if n > 1]


def test_each_webhook_arrives_once_in_order_from_the_node_holding_its_shard(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator, rx: Receiver) -> None:
    with _nodes(workdir, redis_server, sim, 3, rx) as cluster:
        n1, n2, n3 = cluster.nodes
        sessions = [f"w{i}" for i in range(6)]
        for i, session_id in enumerate(sessions):
            extra = {"webhooks": [{"url": rx.url("/own"), "secret": "own-secret"}]} if i == 0 else {}
            _create(cluster.nodes[i % 3], session_id, f"n{i % 3 + 1}", **extra)
        for n in range(4):
            for i, session_id in enumerate(sessions):
                _change(cluster.nodes[(i + n) % 3], session_id, n)  # asked of any node
        n2.client.delete("/api/sessions/w4")
        _delivered_once_in_order(rx, n3, sessions)
        _delivered_once_in_order(rx, n3, ["w0"], path="/own")
        _spread(cluster)
        # Signed with each receiver's secret; the event id is the stream id, in the body too.
        for r in rx.accepted():
            assert _signed(r, SECRET if r.path == "/global" else "own-secret"), r.headers
            assert r.headers["X-Zapvisor-Event-Id"] == r.event["id"]
            assert r.event["node"] in ("n1", "n2", "n3")
        assert "own-secret" not in "".join(d.log() for d in cluster.nodes)


def _spread(cluster: Cluster) -> dict[str, str]:
    """Wait until every shard is held by the node that should hold it (each node takes its share
    as it joins: the first one held them all); shard -> node."""
    names = [d.workdir.name for d in cluster.nodes]
    wanted = {str(k): preferred(k, names) for k in range(SHARDS)}
    wait_until(lambda: cluster.status()["webhook_shards"] == wanted, timeout=20,
               message=f"the webhook shards spread as {wanted}")
    assert set(wanted.values()) == set(names)
    return {k: str(v) for k, v in wanted.items()}


def _on_shards_of(cluster: Cluster, node: str, count: int) -> list[str]:
    """``count`` session ids whose webhooks the shards ``node`` holds deliver."""
    mine = {int(k) for k, v in _spread(cluster).items() if v == node}
    return [s for s in (f"k{i}" for i in range(200)) if shard_of(s) in mine][:count]


def test_a_killed_node_s_unfinished_deliveries_are_sent_by_another_node_once(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator, rx: Receiver) -> None:
    with _nodes(workdir, redis_server, sim, 3, rx) as cluster:
        n1, n2, n3 = cluster.nodes
        sessions = _on_shards_of(cluster, "n1", 3)
        rx.set_status(503)  # the receiver is down: n1 keeps retrying
        for i, session_id in enumerate(sessions):
            _create(n2, session_id, "n2" if i % 2 else "n3")
            for n in range(2):
                _change(n2, session_id, n)
        wait_until(lambda: {r.event["session"] for r in rx.requests()} >= set(sessions), timeout=30,
                   message="n1 attempting each session's first event")
        n1.kill()
        for session_id in sessions:
            _change(n3, session_id, 9)  # after the kill: behind the pending ones, in order
        wait_until(lambda: not set(cluster.status(n2)["webhook_shards"].values()) & {"n1"}, timeout=30,
                   message="n1's shards taken over")
        rx.set_status(200)
        _delivered_once_in_order(rx, n2, sessions)
        claimed = [e for d in (n2, n3) for e in d.events("cluster.webhook_shard_claimed")]
        assert sum(e["entries"] for e in claimed) >= len(sessions), claimed


def test_a_redis_restart_loses_no_event_and_sends_each_webhook_once(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator, rx: Receiver) -> None:
    # A lease long enough that the outage fences nothing: the sessions send through it.
    webhooks = {**HOOKS, "url": rx.url("/global"), "secret": SECRET}
    with cluster_of(workdir, redis_server, sim, 2, {}, lease_s=30.0, webhooks=webhooks) as cluster:
        n1, n2 = cluster.nodes
        sessions = {"r1": n1, "r2": n2}
        with SSEClient(_url(n2, "/api/events"), API_KEY) as stream:
            for (session_id, d), phone in zip(sessions.items(), (PHONE_A, PHONE_B)):
                _create(d, session_id, d.workdir.name, start=True)
                _change(d, session_id, 0)
                login(d, sim, session_id, phone)
            redis_server.stop()
            # The roles are the cluster's: not changed while Redis is away (503, retry).
            status, _, body = n1.call("PUT", "/api/roles/sales", {"sessions": ["r1"]})
            assert status == 503 and "Redis" in body["error"]["message"], body
            for n in range(3):  # sends need no Redis: their events wait in each node's journal
                for session_id, d in sessions.items():
                    status, _, body = d.call("POST", f"/api/sessions/{session_id}/messages",
                                             {"to": "5511988887777", "text": f"m{n}"})
                    assert status == 201, body
            redis_server.start()
            wait_until(lambda: sum(e["event"] == "message.sent" for e in n1.client.get(
                "/api/events?format=json&limit=1000")["events"]) >= 6, timeout=30,
                message="the events journaled meanwhile in the stream")
            _delivered_once_in_order(rx, n1, list(sessions))
            everything = [e["id"] for e in n1.client.get("/api/events?format=json&limit=1000")["events"]]
            seen = []
            while not seen or seen[-1].id != everything[-1]:
                seen.append(stream.read_until(lambda m: True, timeout=30))
        ids = [m.id for m in seen]
        assert ids == everything[everything.index(ids[0]):]  # nothing lost, nothing twice
        names = Counter(_names([m.data for m in seen]))
        assert (names["session.created"], names["session.updated"], names["message.sent"]) == (2, 2, 6), names
        assert not any(d.events("cluster.relay_dropped") for d in cluster.nodes)
        assert any(d.events("cluster.relay_stalled") for d in cluster.nodes)  # it was away
