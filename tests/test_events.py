"""The event bus: ordering, history, slow subscribers dropped."""

from __future__ import annotations

from supervisor.events import EventBus


def test_ids_increase_and_history_is_bounded() -> None:
    bus = EventBus(history=3)
    ids = [bus.publish("session.status", "a", {"n": i})["id"] for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    assert [m["id"] for m in bus.history()] == [3, 4, 5]
    assert [m["id"] for m in bus.history(after_id=4)] == [5]


def test_slow_subscriber_is_dropped_not_blocking() -> None:
    bus = EventBus(queue_size=2)
    with bus.subscribe() as slow, bus.subscribe() as fast:
        bus.publish("e", None, {})
        fast.queue.get_nowait()
        bus.publish("e", None, {})
        fast.queue.get_nowait()
        bus.publish("e", None, {})  # slow now has 3 pending > 2
        assert slow.dropped and not fast.dropped
        assert fast.queue.get_nowait()["id"] == 3
