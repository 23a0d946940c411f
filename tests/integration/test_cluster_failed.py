"""The webhook deliveries a cluster gave up on (supervisor/cluster/failed.py), listed and sent
again: on a real ``redis-server`` with a node's real relay and delivery book, and end to end with
two real daemons as nodes and a real webhook receiver that fails, then recovers.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import redis

from supervisor.cluster.book import Book
from supervisor.cluster.failed import FailedDeliveries
from supervisor.cluster.relay import Relay
from supervisor.cluster.shards import Shards
from supervisor.cluster.streamids import SHARDS, shard_of
from supervisor.errors import Conflict, NotFound
from supervisor.events.webhooks import Hook
from supervisor.hub import Hub
from tests.integration.test_cli import zapvisor
from tests.integration.test_cluster_events import HOOKS, SECRET, _signed
from tests.integration.test_cluster_shards import relaying
from tests.support.cluster import cluster_of
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.receiver import Receiver
from tests.support.redis import RedisServer
from tests.wasim import RunningSimulator

GLOBAL = "https://receiver.example/global"
OWN = "https://receiver.example/own"


def node(tmp_path: Path, server: RedisServer) -> AbstractAsyncContextManager[tuple[Hub, Relay, Any]]:
    """A node's hub (journal in a real SQLite store, a global webhook with a secret) and its
    relay to ``server``."""
    return relaying(tmp_path, server, url=GLOBAL, secret="global-secret")


async def _give_up_everything(shards: Shards, book: Book) -> None:
    """What a shard's holder does when every receiver fails for good: each delivery given up
    (the book lists it), in stream order, written to Redis."""
    for shard, entries in await shards.fetch(list(range(SHARDS)), 100):
        book.load(shard, entries)
    for lane in book.pending_lanes():
        while (delivery := book.head(lane)) is not None:
            book.failed(delivery, 3, 503, "gave up after 3 attempts; last: HTTP 503")
    await shards.settle(book.take_ops())


@pytest.mark.asyncio
async def test_a_given_up_delivery_is_listed_and_queued_again_with_its_receiver_s_secret_of_now(
        tmp_path: Path, redis_server: RedisServer) -> None:
    async with node(tmp_path, redis_server) as (hub, relay, client):
        hub.webhooks.set_session_hooks("s1", [Hook(OWN, (), "own-secret")])
        for n in range(2):
            for session in ("s0", "s1"):
                hub.bus.publish("session.updated", session, {"n": n})
        await relay.drain()
        events = {f["lid"]: i for i, f in await client.xrange("zv:events")}
        shards = Shards(client, "n1", "inc", 3.0, keep_failed=100)
        await shards.sync("w" * SHARDS)
        book = Book(shards, max_pending=100)
        await _give_up_everything(shards, book)
        failed = FailedDeliveries(client, relay, hub.webhooks.global_hook)

        listed, total = await failed.listing()
        assert total == 6 and len(listed) == 6  # s0: 2 events x global; s1: 2 x (global, own)
        assert all(r["status"] == "failed" and "secret" not in r and r["node"] == "n1" for r in listed)
        assert "secret" not in json.dumps(await client.lrange("zv:deliveries:failed", 0, -1))
        assert [r["failed_at"] for r in listed] == sorted((r["failed_at"] for r in listed), reverse=True)
        mine, _ = await failed.listing("s1", limit=2)
        assert [r["session"] for r in mine] == ["s1", "s1"]
        assert {(r["event_id"], r["url"]) for r in (await failed.listing("s1"))[0]} == {
            (events[lid], url) for lid in ("2", "4") for url in (GLOBAL, OWN)}

        # Queued again: off the list, on s1's shard with its event and the secret of now.
        target = events["2"]
        answer = await failed.retry(target, OWN)
        assert answer["status"] == "pending" and answer["event_id"] == target and answer["url"] == OWN
        assert answer["shard"] == shard_of("s1") and "secret" not in answer
        assert (await failed.listing())[1] == 5
        assert (target, OWN) not in {(r["event_id"], r["url"]) for r in (await failed.listing())[0]}
        stored = dict((await client.xrange("zv:events", target, target))[0][1])
        [(_, entry)] = await client.xrange(f"zv:deliveries:{shard_of('s1')}")
        assert entry["id"] == target and entry["node"] == "n1" and entry["event"] == stored["event"]
        assert json.loads(entry["targets"]) == [[OWN, "own-secret"]]
        # Its holder reads it as any delivery; its age counts from the retry.
        [(shard, entries)] = await shards.fetch([shard_of("s1")], 10)
        assert book.load(shard, entries) == [("s1", OWN)]
        delivery = book.head(("s1", OWN))
        assert delivery is not None and delivery.secret == "own-secret" and delivery.attempts == 0
        assert delivery.event_id == target and delivery.event["payload"] == {"n": 0}
        assert delivery.created_at == answer["retried_at"] > delivery.event["timestamp"]
        with pytest.raises(NotFound, match=target):
            await failed.retry(target, OWN)  # once only
        with pytest.raises(NotFound):
            await failed.retry("1-0", GLOBAL)

        # The global webhook's secret is the config's; a session's hook gone: nothing to sign with.
        await failed.retry(events["1"], GLOBAL)
        entry = (await client.xrange(f"zv:deliveries:{shard_of('s0')}"))[-1][1]
        assert json.loads(entry["targets"]) == [[GLOBAL, "global-secret"]]
        hub.webhooks.set_session_hooks("s1", [])
        await relay.drain()
        with pytest.raises(Conflict, match=f"session s1 has the URL {OWN}"):
            await failed.retry(events["4"], OWN)
        # An event the stream no longer holds cannot be sent again: it stays listed.
        await client.xtrim("zv:events", maxlen=0)
        with pytest.raises(Conflict, match=f"event {events['4']} is no longer"):
            await failed.retry(events["4"], GLOBAL)
        assert (events["4"], GLOBAL) in {(r["event_id"], r["url"]) for r in (await failed.listing())[0]}


@pytest.mark.asyncio
async def test_the_listing_pages_through_a_long_list(tmp_path: Path, redis_server: RedisServer) -> None:
    async with node(tmp_path, redis_server) as (hub, relay, client):
        records = [json.dumps({"event_id": f"{n}-0", "session": f"s{n % 2}", "url": GLOBAL, "failed_at": n})
                   for n in range(1200)]
        await client.lpush("zv:deliveries:failed", *records, "not json")
        failed = FailedDeliveries(client, relay, hub.webhooks.global_hook)
        listed, total = await failed.listing("s1", limit=1000)
        assert total == 1201 and len(listed) == 600
        assert [r["event_id"] for r in listed] == [f"{n}-0" for n in range(1199, 0, -2)]
        assert len((await failed.listing(limit=1000))[0]) == 1000
        raw, record = await failed.find("0-0", GLOBAL)  # the oldest, on the third page
        assert raw == records[0] and record["session"] == "s0"


def _failed_of(d: Daemon, session: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = d.client.get(f"/api/cluster/deliveries?session={session}")["deliveries"]
    return answer


def test_a_delivery_the_cluster_gave_up_on_is_listed_anywhere_and_retried_once_signed(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator, rx: Receiver) -> None:
    webhooks = {**HOOKS, "max_attempts": 2, "url": rx.url("/global"), "secret": SECRET}
    with cluster_of(workdir, redis_server, sim, 2, {}, webhooks=webhooks) as cluster:
        rx.set_status(503)
        for session_id in ("f1", "f2"):
            status, _, body = cluster.nodes[0].call("POST", "/api/sessions", {
                "id": session_id, "start": False, "node": "n1",
                "webhooks": [{"url": rx.url("/own"), "secret": "own-secret"}]})
            assert status == 201, body

        def given_up(session_id: str) -> list[dict[str, Any]]:
            return [r for r in _failed_of(cluster.nodes[0], session_id) if r["event"] == "session.created"]

        wait_until(lambda: len(given_up("f1")) == len(given_up("f2")) == 2, timeout=30,
                   message="f1's and f2's first events given up at both receivers")
        by_url = {r["url"]: r for r in given_up("f1")}
        record = by_url[rx.url("/global")]
        event_id = record["event_id"]
        assert record["attempts"] == 2 and record["last_status"] == 503 and record["status"] == "failed"
        assert by_url[rx.url("/own")]["event_id"] == event_id
        # Listed by the node that did not give up on it too, to the API and to the CLI.
        other = next(d for d in cluster.nodes if d.workdir.name != record["node"])
        assert {(r["event_id"], r["url"]) for r in _failed_of(other, "f1")} == {
            (event_id, rx.url("/global")), (event_id, rx.url("/own"))}
        shown = zapvisor("cluster", "deliveries", "--session", "f1", config=other.config_path)
        assert shown.returncode == 0, shown.stderr
        assert event_id in shown.stdout and rx.url("/global") in shown.stdout and "HTTP 503" in shown.stdout
        assert "own-secret" not in shown.stdout and SECRET not in shown.stdout

        # The receiver is fixed; the deliveries are sent again through the other node (API, CLI).
        rx.set_status(200)
        status, _, body = other.call("POST", "/api/cluster/deliveries/retry",
                                     {"event_id": event_id, "url": rx.url("/global")})
        assert status == 200 and body["status"] == "pending" and body["event_id"] == event_id, body
        queued = zapvisor("cluster", "retry", event_id, rx.url("/own"), config=other.config_path)
        assert queued.returncode == 0 and "queued again (pending)" in queued.stdout, queued.stderr
        # A later event of f1 arriving after them means their lanes are done (same shard, in
        # stream order): then each arrived exactly once.
        status, _, body = other.call("PATCH", "/api/sessions/f1", {"metadata": {"n": 1}})
        assert status == 200, body
        wait_until(lambda: {r.path for r in rx.accepted() if r.event["event"] == "session.updated"
                            and r.event["session"] == "f1"} == {"/global", "/own"},
                   timeout=30, message="f1's next event at both receivers")
        again = sorted((r for r in rx.accepted() if r.headers["X-Zapvisor-Event-Id"] == event_id),
                       key=lambda r: r.path)
        assert [r.path for r in again] == ["/global", "/own"]
        assert _signed(again[0], SECRET) and _signed(again[1], "own-secret")
        assert all(r.event["id"] == event_id and r.event["event"] == "session.created"
                   and r.event["session"] == "f1" for r in again)
        for d in cluster.nodes:
            assert _failed_of(d, "f1") == []

        # Once only; an unknown one: 404.
        for unknown in (event_id, "1-0"):
            status, _, body = other.call("POST", "/api/cluster/deliveries/retry",
                                         {"event_id": unknown, "url": rx.url("/global")})
            assert status == 404 and unknown in body["error"]["message"], body
        status, _, body = other.call("POST", "/api/cluster/deliveries/retry", {"event_id": "x", "url": "u"})
        assert status == 400 and "event_id" in body["error"]["message"], body
        # f2's webhook removed since it failed: 409, also to the CLI (one line); it stays listed.
        lost = {r["url"]: r for r in given_up("f2")}[rx.url("/own")]["event_id"]
        status, _, body = other.call("PUT", "/api/sessions/f2/webhooks", {"webhooks": []})
        assert status == 200, body
        shared = redis.Redis.from_url(redis_server.url)
        try:
            wait_until(lambda: not shared.exists("zv:hooks:f2"), timeout=30,
                       message="f2's webhooks removed from the cluster")
        finally:
            shared.close()
        refused = zapvisor("cluster", "retry", lost, rx.url("/own"), config=other.config_path)
        assert refused.returncode != 0 and refused.stdout == ""
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "no webhook of session f2" in refused.stderr
        status, _, body = cluster.nodes[0].call("POST", "/api/cluster/deliveries/retry",
                                                {"event_id": lost, "url": rx.url("/own")})
        assert status == 409 and rx.url("/own") in body["error"]["message"], body
        assert len(given_up("f2")) == 2
        assert not any(r.headers["X-Zapvisor-Event-Id"] == lost for r in rx.accepted())


def test_a_daemon_that_runs_alone_has_no_cluster_deliveries(plain_daemon: Daemon) -> None:
    status, _, body = plain_daemon.call("GET", "/api/cluster/deliveries")
    assert status == 409 and "runs alone" in body["error"]["message"], body
    status, _, body = plain_daemon.call("POST", "/api/cluster/deliveries/retry", {"event_id": "1-0", "url": "u"})
    assert status == 409 and "runs alone" in body["error"]["message"], body
    shown = zapvisor("cluster", "deliveries", config=plain_daemon.config_path)
    assert shown.returncode != 0 and "runs alone" in shown.stderr
    assert len(shown.stderr.strip().splitlines()) == 1, shown.stderr
