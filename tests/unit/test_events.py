"""The event bus and its journal: ids, history, filters, slow subscribers, shutdown, restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from supervisor.events.bus import EventBus, matches, parse_patterns
from supervisor.events.outbox import Outbox
from supervisor.events.webhooks import Webhooks
from supervisor.settings import WebhooksConfig
from supervisor.store import Store


def test_ids_increase_and_history_is_bounded() -> None:
    bus = EventBus(history=3)
    ids = [bus.publish("session.status", "a", {"n": i})["id"] for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    assert [m["id"] for m in bus.history()] == [3, 4, 5]
    assert [m["id"] for m in bus.history(after_id=4)] == [5]
    assert bus.oldest_id == 3 and bus.last_id == 5
    event = bus.history()[-1]
    assert set(event) == {"id", "event", "session", "timestamp", "payload"}


def test_filters() -> None:
    assert parse_patterns(" session.status, message.* ,") == ("session.status", "message.*")
    assert matches((), "anything") and matches(("*",), "x.y")
    # A family selects its head too: "message.*" is every message event, "message" included.
    assert matches(("message.*",), "message.ack") and matches(("message.*",), "message")
    assert matches(("session.*",), "session.status") and not matches(("session.*",), "sessions")
    assert not matches(("message.*",), "messages") and not matches(("message.*",), "messagex.ack")
    assert matches(("message.ack.*",), "message.ack") and not matches(("message.ack.*",), "message")
    assert matches(("message",), "message") and not matches(("message",), "message.ack")
    for bad in ("Session", "a..b", "a.*.b", "a b"):
        with pytest.raises(ValueError, match="bad event name"):
            parse_patterns(bad)


@pytest.mark.asyncio
async def test_slow_subscriber_is_dropped_not_blocking() -> None:
    bus = EventBus(queue_size=2)
    with bus.subscribe() as slow, bus.subscribe() as fast:
        for _ in range(3):
            bus.publish("e", None, {})
            assert (await fast.get()) is not None
        assert slow.closed == "dropped" and fast.closed is None
        assert await slow.get() is None  # what it held is gone with it
        assert bus.subscribers == 1 and bus.dropped == 1


@pytest.mark.asyncio
async def test_subscription_filters_and_close_drains_then_ends() -> None:
    bus = EventBus()
    with bus.subscribe(lambda e: e["session"] == "a") as sub:
        bus.publish("x", "b", {})
        bus.publish("x", "a", {"n": 1})
        bus.close()
        first = await sub.get()
        assert first is not None and first["payload"] == {"n": 1}
        assert await sub.get() is None and sub.closed == "shutdown"
        assert await asyncio.wait_for(sub.get(), 1) is None
    with bus.subscribe() as late:
        assert late.closed == "shutdown"


@pytest.mark.asyncio
async def test_get_times_out_with_nothing() -> None:
    bus = EventBus()
    with bus.subscribe() as sub:
        assert await sub.get(timeout_s=0.01) is None and sub.closed is None


def test_listener_and_journal_errors_do_not_stop_the_bus() -> None:
    seen = []

    def broken(_event: dict[str, object]) -> None:
        raise RuntimeError("boom")

    bus = EventBus(journal=broken)
    bus.listen(broken)
    bus.listen(seen.append)
    assert bus.publish("e", None, {})["id"] == 1 and len(seen) == 1


def _journaled(path: Path, history: int = 5) -> tuple[Store, Outbox, EventBus]:
    store = Store(path)
    outbox = Outbox(store, history=history, keep_failed=10)
    hooks = Webhooks(WebhooksConfig(url="http://127.0.0.1:9/h", allow_private_networks=True), outbox)
    bus = EventBus(history=history, journal=hooks.store_event, last_id=outbox.last_event_id(),
                   backlog=outbox.recent_events(history))
    return store, outbox, bus


def test_ids_and_history_survive_a_restart(tmp_path: Path) -> None:
    store, outbox, bus = _journaled(tmp_path / "z.db")
    for n in range(7):
        bus.publish("session.status", "a", {"n": n})
    assert outbox.counts()["pending"] == 7  # stored, with a delivery each, before fan-out
    store.close()
    store, outbox, bus = _journaled(tmp_path / "z.db")
    assert bus.last_id == 7 and [e["id"] for e in bus.history()] == [3, 4, 5, 6, 7]
    assert bus.history()[-1]["payload"] == {"n": 6}
    assert bus.publish("e", None, {})["id"] == 8
    store.close()


def test_journal_is_pruned_but_keeps_what_deliveries_need(tmp_path: Path) -> None:
    store, outbox, bus = _journaled(tmp_path / "z.db", history=5)
    for n in range(450):
        bus.publish("e", "a", {"n": n})
    for delivery in outbox.select("pending", None, 1000)[:-10]:  # newest first
        outbox.delivered(delivery, 1, 200)
    outbox.prune()
    kept = [r[0] for r in store.connection.execute("SELECT id FROM events ORDER BY id")]
    assert kept == [*range(1, 11), *range(446, 451)]  # still pending, and the history
    assert outbox.counts() == {"pending": 10, "delivered": 5, "failed": 0}
    store.close()
