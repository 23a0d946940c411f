"""The cluster's webhook book (supervisor/cluster/book.py) and its stream ids, without Redis:
lanes in stream order, an entry acknowledged once all its receivers settled, what a shard's loss
or handover does, the per-receiver cap; and stream id parsing."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
import redis.asyncio as aioredis

from supervisor.cluster.book import Book
from supervisor.cluster.shards import Shards, preferred
from supervisor.cluster.streamids import SHARDS, is_after, parse, shard_of


def _shards(*held: int) -> Shards:
    # A client that never connects: the book only asks the shards what is held.
    shards = Shards(aioredis.Redis.from_url("redis://127.0.0.1:1/0"), "n1", "inc", 3.0, keep_failed=10)
    shards.held = {k: time.monotonic() + 60 for k in held}
    return shards


def _entry(entry_id: str, session: str, *urls: str) -> tuple[str, dict[str, str]]:
    event = {"id": 7, "event": "session.updated", "session": session, "timestamp": time.time(), "payload": {}}
    return entry_id, {"id": f"{entry_id}0", "node": "n2", "event": json.dumps(event),
                      "targets": json.dumps([[u, "secret"] for u in urls])}


def _ops(book: Book) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(op.kind, op.entry_id, op.urls) for op in book.take_ops()]


def test_lanes_keep_stream_order_and_an_entry_is_acked_once_every_receiver_settled() -> None:
    shard = shard_of("s")
    book = Book(_shards(shard), max_pending=100)
    lanes = book.load(shard, [_entry("1-0", "s", "http://a/", "http://b/"), _entry("2-0", "s", "http://a/")])
    assert sorted(set(lanes)) == [("s", "http://a/"), ("s", "http://b/")]
    head = book.head(("s", "http://a/"))
    assert head is not None and head.event_id == "1-00" and head.event["node"] == "n2"
    assert head.event["id"] == "1-00" and book.busy(shard)
    book.delivered(head, 1, 200)
    assert not book.busy(shard)
    assert _ops(book) == [("done", "1-0", ("http://a/",))]
    second = book.head(("s", "http://a/"))
    assert second is not None and second.event_id == "2-00"
    book.retry_at(second, 1, time.time() + 60, 503, "HTTP 503")
    waiting = book.head(("s", "http://a/"))
    assert waiting is not None and waiting.attempts == 1 and not book.busy(shard)  # not due yet
    other = book.head(("s", "http://b/"))
    assert other is not None
    book.failed(other, 3, 404, "HTTP 404")
    ops = book.take_ops()
    assert [op.kind for op in ops] == ["failed", "ack"] and ops[1].urls == ("http://a/",)
    failed = json.loads(ops[0].record)
    assert failed["url"] == "http://b/" and "secret" not in ops[0].record
    assert book.pending_count() == 1
    # Loaded again (a fetch that overlaps a claim): nothing is queued twice.
    assert book.load(shard, [_entry("2-0", "s", "http://a/")]) == []


def test_a_shard_lost_or_handed_over_sends_nothing_more_here() -> None:
    shard = shard_of("s")
    shards = _shards(shard)
    book = Book(shards, max_pending=100)
    book.load(shard, [_entry("1-0", "s", "http://a/")], done={"1-0 http://b/"})
    book.leaving.add(shard)
    assert book.head(("s", "http://a/")) is None
    book.leaving.clear()
    shards.held[shard] = time.monotonic() - 1  # its lease is no longer surely held
    assert book.head(("s", "http://a/")) is None
    shards.held[shard] = time.monotonic() + 60
    delivery = book.head(("s", "http://a/"))
    assert delivery is not None
    assert book.drop(shard) == [("s", "http://a/")]
    book.delivered(delivery, 1, 200)  # the attempt in flight ends after the loss: no ack
    assert book.take_ops() == [] and book.pending_count() == 0


def test_receivers_done_before_a_takeover_are_not_sent_again_and_the_cap_holds() -> None:
    shard = shard_of("s")
    overflowed: list[tuple[str, str]] = []
    book = Book(_shards(shard), max_pending=2, overflowed=lambda s, u: overflowed.append((s, u)))
    book.load(shard, [_entry("1-0", "s", "http://a/", "http://b/")], done={"1-0 http://a/"})
    assert book.pending_lanes() == [("s", "http://b/")]
    delivery = book.head(("s", "http://b/"))
    assert delivery is not None
    book.delivered(delivery, 1, 200)
    assert _ops(book) == [("ack", "1-0", ("http://a/",))]  # its done mark goes with it
    book.load(shard, [_entry(f"{n}-1", "s", "http://c/") for n in range(3)])
    assert book.pending_count() == 2 and overflowed == [("s", "http://c/")]
    assert [op.kind for op in book.take_ops()] == ["failed", "ack"]  # given up: settled
    book.load(shard, [("9-0", {"event": "not json"})])
    assert _ops(book) == [("ack", "9-0", ())]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 16, 20])
def test_shards_spread_evenly_the_same_on_every_node(count: int) -> None:
    nodes = [f"node-{i}" for i in range(count)]
    owners = {k: preferred(k, nodes) for k in range(SHARDS)}
    loads = Counter(owners.values())
    assert max(loads.values()) - (min(loads.values()) if len(loads) == count else 0) <= 1, loads
    assert len(loads) == min(count, SHARDS)
    assert owners == {k: preferred(k, list(reversed(nodes))) for k in range(SHARDS)}  # order-free


def test_a_node_that_leaves_hands_on_its_shards_and_few_others_move() -> None:
    nodes = ["n1", "n2", "n3"]
    owners = {k: preferred(k, nodes) for k in range(SHARDS)}
    assert sorted(Counter(owners.values()).values()) == [5, 5, 6]
    after = {k: preferred(k, ["n1", "n3"]) for k in range(SHARDS)}
    assert set(after.values()) == {"n1", "n3"}
    moved = [k for k in range(SHARDS) if owners[k] != "n2" and after[k] != owners[k]]
    assert len(moved) <= 2, moved  # the even shares cost at most two moves here
    assert preferred(0, []) is None


@pytest.mark.parametrize("text,expected", [
    ("0", "0-0"), ("5", "5-0"), ("1700000000000-3", "1700000000000-3"), (" 12-0 ", "12-0"),
    ("12-x", None), ("-1", None), ("1-2-3", None), ("", None), ("18446744073709551616-0", None)])
def test_stream_ids_parse(text: str, expected: Any) -> None:
    assert parse(text) == expected


def test_stream_ids_order_as_pairs_of_integers() -> None:
    assert is_after("10-0", "9-5") and is_after("9-10", "9-9") and not is_after("9-9", "9-9")
    assert is_after("0-1", None)
