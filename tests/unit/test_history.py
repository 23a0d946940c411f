"""The charts' history (supervisor/events/history.py) on a real SQLite store: what each event
adds, buckets, what is written when, the kept window, a deleted session, a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from supervisor.events.bus import EventBus
from supervisor.events.history import History
from supervisor.store import Store

T0 = 1_700_000_040.0  # a minute's start (a multiple of 60 and of 3600 - 2400)


class Clock:
    """Wall time under the test's control."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(name: str, session: str | None, at: float, **payload: Any) -> dict[str, Any]:
    return {"id": 1, "event": name, "session": session, "timestamp": at, "payload": payload}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "z.db")


def rows(store: Store) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.connection.execute(
        "SELECT session, metric, minute, n, total, peak FROM series ORDER BY session, metric, minute")]


def test_events_become_counts_and_samples_per_session_and_for_the_daemon(store: Store) -> None:
    clock = Clock(T0 + 150)
    history = History(store, keep_h=48, queue_depth=lambda: 7, clock=clock)
    for e in (event("message", "a", T0 + 1, from_me=False), event("message", "a", T0 + 2, fromMe=True),
              event("message.sent", "a", T0 + 61), event("message", "b", T0 + 62),
              event("session.restart", "a", T0 + 63, kind="crash"), event("session.recycled", "a", T0 + 64),
              event("session.resource", "a", T0 + 5, memory_bytes=100, cpu_percent=None),
              event("session.resource", "a", T0 + 35, memory_bytes=300, cpu_percent=4.0),
              event("session.resource", "a", T0 + 65, memory_bytes=True, cpu_percent=float("nan")),
              event("session.status", "a", T0 + 66, state="WORKING"), event("orphans.reaped", None, T0 + 67)):
        history.on_event(e)
    history.sample_queue()  # at T0 + 150: the third minute
    a = history.query("a", T0, 60)
    assert a["times"] == [T0, T0 + 60, T0 + 120] and a["bucket_s"] == 60 and a["session"] == "a"
    assert a["series"] == {
        "messages_received": [1, 0, 0], "messages_sent": [1, 1, 0], "restarts": [0, 2, 0],
        "memory_bytes": [200.0, None, None], "memory_bytes_max": [300.0, None, None],
        "cpu_percent": [4.0, None, None], "cpu_percent_max": [4.0, None, None],
    }
    fleet = history.query(None, T0, 60)["series"]
    assert fleet == {"messages_received": [1, 1, 0], "messages_sent": [1, 1, 0], "restarts": [0, 2, 0],
                     "webhook_queue": [None, None, 7.0], "webhook_queue_max": [None, None, 7.0]}
    assert history.query("b", T0, 60)["series"]["messages_received"] == [0, 1, 0]


def test_finished_minutes_are_written_once_and_read_the_same(store: Store) -> None:
    clock = Clock(T0 + 30)
    history = History(store, keep_h=48, queue_depth=lambda: 0, clock=clock)
    history.on_event(event("message", "a", T0 + 10))
    assert history.flush() == 0 and rows(store) == []  # the minute is not over
    clock.now = T0 + 70
    history.on_event(event("message", "a", T0 + 65))
    before = history.query("a", T0, 60)
    assert history.flush() == 2  # the first minute: a's row and the daemon's
    assert rows(store) == [("", "messages_received", int(T0 // 60), 1, 1.0, 1.0),
                           ("a", "messages_received", int(T0 // 60), 1, 1.0, 1.0)]
    assert history.query("a", T0, 60) == before
    # A late event of a written minute adds to its row.
    history.on_event(event("message", "a", T0 + 20))
    clock.now = T0 + 130
    history.flush()
    assert ("a", "messages_received", int(T0 // 60), 2, 2.0, 1.0) in rows(store)
    assert history.query("a", T0, 60)["series"]["messages_received"] == [2, 1, 0]


def test_buckets_add_up_minutes_aligned_on_their_size(store: Store) -> None:
    hour = 3600 * (int(T0) // 3600 + 1)  # the next whole hour
    clock = Clock(hour + 2 * 3600 + 10)
    history = History(store, keep_h=48, queue_depth=lambda: 0, clock=clock)
    for at in (hour - 30, hour + 5, hour + 1800, hour + 3600 + 1, hour + 7200 + 1):
        history.on_event(event("message", "a", at))
        history.on_event(event("session.resource", "a", at, memory_bytes=at - hour))
    history.flush()
    got = history.query("a", hour + 100, 3600)  # since is rounded down to its bucket
    assert got["since"] == hour and got["times"] == [hour, hour + 3600, hour + 7200]
    assert got["series"]["messages_received"] == [2, 1, 1]
    assert got["series"]["memory_bytes_max"] == [1800.0, 3601.0, 7201.0]
    assert got["series"]["memory_bytes"] == [902.5, 3601.0, 7201.0]


def test_the_window_is_bounded(store: Store) -> None:
    clock = Clock(T0)
    history = History(store, keep_h=1, queue_depth=lambda: 0, clock=clock)
    history.on_event(event("message", "a", T0 - 7200))
    history.on_event(event("message", "a", T0 - 600))
    history.flush()
    assert len(rows(store)) == 4
    got = history.query("a", 0, 600)  # asked from 1970: the kept hour only
    assert got["since"] == T0 - 3600 - (T0 - 3600) % 600 and sum(got["series"]["messages_received"]) == 1
    history.prune()
    assert [r[2] for r in rows(store)] == [int((T0 - 600) // 60)] * 2


def test_a_deleted_session_is_forgotten_but_the_daemon_totals_stay(store: Store) -> None:
    clock = Clock(T0 + 90)
    history = History(store, keep_h=48, queue_depth=lambda: 0, clock=clock)
    history.on_event(event("message", "a", T0))
    history.flush()
    history.on_event(event("message", "a", T0 + 61))
    history.on_event(event("session.deleted", "a", T0 + 62))
    assert history.query("a", T0, 60)["series"]["messages_received"] == [0, 0]
    assert history.query(None, T0, 60)["series"]["messages_received"] == [1, 1]
    assert {r[0] for r in rows(store)} == {""}


@pytest.mark.asyncio
async def test_the_loop_samples_the_queue_and_close_writes_everything(tmp_path: Path) -> None:
    store = Store(tmp_path / "z.db")
    bus = EventBus()
    depth = [3]
    history = History(store, keep_h=48, queue_depth=lambda: depth[0])
    bus.listen(history.on_event)
    task = asyncio.create_task(history.run())
    bus.publish("message", "a", {"from_me": True})

    async def sampled() -> None:
        while not any(history.query(None, 0, 3600)["series"]["webhook_queue"]):
            await asyncio.sleep(0.01)
    await asyncio.wait_for(sampled(), 10)
    history.close()
    await asyncio.wait_for(task, 5)
    assert {r[1] for r in rows(store)} == {"messages_sent", "webhook_queue"}
    store.close()
    # The next run reads what the last one wrote.
    again = History(Store(tmp_path / "z.db"), keep_h=48, queue_depth=lambda: 0)
    series = again.query(None, 0, 3600)["series"]
    assert sum(series["messages_sent"]) == 1 and max(v or 0 for v in series["webhook_queue_max"]) == 3
