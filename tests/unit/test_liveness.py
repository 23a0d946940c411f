"""The liveness monitor's decisions, tick by tick, on made-up clocks (no processes)."""

from __future__ import annotations

from typing import Any

from supervisor.events.bus import EventBus
from supervisor.sessions.liveness import HostWatch
from supervisor.settings import ChromeConfig, LimitsConfig, SessionsConfig

LIMITS = LimitsConfig(heartbeat_interval_s=1.0, heartbeat_timeout_s=10.0, probe_interval_s=1.0)


class FakeWorker:
    """What the monitor reads of a worker, and what it may do to one."""

    def __init__(self, last_beat: float, beat: dict[str, Any] | None = None) -> None:
        self.returncode: int | None = None
        self.hung = False
        self.started_at = 1.0
        self.last_heartbeat_at = last_beat
        self.heartbeat = beat or {}
        self.verdict: tuple[str, str, float | None] | None = None

    def declare_hung(self, kind: str, reason: str, stop_timeout_s: float | None) -> None:
        self.verdict, self.hung = (kind, reason, stop_timeout_s), True


def _watch(workers: list[FakeWorker]) -> tuple[HostWatch, list[tuple[str, dict[str, Any]]]]:
    bus = EventBus()
    published: list[tuple[str, dict[str, Any]]] = []
    bus.listen(lambda event: published.append((event["event"], event["payload"])))
    return HostWatch(LIMITS, ChromeConfig(page_timeout_s=5.0), SessionsConfig(), bus,
                     lambda: workers), published


def test_one_silent_worker_among_beating_ones_is_hung() -> None:
    workers = [FakeWorker(100.0) for _ in range(9)] + [FakeWorker(80.0)]
    watch, published = _watch(workers)
    watch.tick(100.5, lag=0.0)
    assert not watch.starved and published == []
    assert workers[-1].verdict is not None and workers[-1].verdict[0] == "heartbeat_timeout"
    assert workers[-1].verdict[2] is None  # silent: SIGTERM, SIGKILL, not the close order
    assert all(w.verdict is None for w in workers[:-1])


def test_many_late_together_is_starvation_and_nothing_is_killed_until_it_ends() -> None:
    workers = [FakeWorker(100.0) for _ in range(6)] + [FakeWorker(80.0) for _ in range(4)]
    watch, published = _watch(workers)
    watch.tick(100.5, lag=0.0)
    assert watch.starved and "4 of 10 workers late together" in watch.reasons[0]
    assert all(w.verdict is None for w in workers)
    assert published == [("host.starved", published[0][1])] and published[0][1]["starved"] is True
    for w in workers:
        w.last_heartbeat_at = 110.0  # they all beat again
    watch.tick(110.5, lag=0.0)
    assert not watch.starved and published[-1][1] == {"starved": False, "duration_s": 10.0}
    # A full timeout again from the end of the starvation, even for one still silent.
    workers[0].last_heartbeat_at = 90.0
    watch.tick(115.0, lag=0.0)
    assert workers[0].verdict is None
    for w in workers[1:]:
        w.last_heartbeat_at = 120.0
    watch.tick(121.0, lag=0.0)
    assert workers[0].verdict is not None


def test_the_tick_that_ends_a_starvation_kills_no_worker_still_catching_up() -> None:
    # Held workers resume one by one: the tick that sees most beat again ends the starvation,
    # and the one not yet beating gets its full timeout from then, not its silence before.
    workers = [FakeWorker(100.0) for _ in range(6)] + [FakeWorker(80.0) for _ in range(4)]
    watch, _ = _watch(workers)
    watch.tick(100.5, lag=0.0)
    assert watch.starved
    for w in workers[:-1]:
        w.last_heartbeat_at = 110.0
    watch.tick(110.5, lag=0.0)
    assert not watch.starved
    assert workers[-1].verdict is None
    for w in workers[:-1]:
        w.last_heartbeat_at = 120.0
    watch.tick(121.0, lag=0.0)
    assert workers[-1].verdict is not None and all(w.verdict is None for w in workers[:-1])


def test_a_late_loop_is_starvation_and_stretches_deadlines() -> None:
    workers = [FakeWorker(80.0)]
    watch, _ = _watch(workers)
    budget = watch.budget(30.0)
    watch.tick(100.0, lag=2.5)
    assert watch.starved and "event loop ran 2.5s late" in watch.reasons[0]
    assert workers[0].verdict is None
    assert watch.status()["loop_lag_ms"] == 2500.0
    # A worker silent ten times the timeout is ended even then.
    workers[0].last_heartbeat_at = -50.0
    watch.tick(100.5, lag=2.0)
    assert workers[0].verdict is not None
    assert budget() > 0


def test_probe_evidence_ends_a_worker_in_the_close_order_but_not_when_starved() -> None:
    frozen = FakeWorker(100.0, {"probe_failures": 3})
    stalled = FakeWorker(100.0, {"probe_failures": 0, "page_stalled_s": 7.5})
    fine = [FakeWorker(100.0, {"probe_failures": 1, "page_stalled_s": 1.0}) for _ in range(8)]
    watch, _ = _watch([frozen, stalled, *fine])
    watch.tick(100.5, lag=0.0)
    assert frozen.verdict == ("cdp_unresponsive", "Chrome not answering CDP", 15.0)
    assert stalled.verdict is not None and stalled.verdict[0] == "page_unresponsive"
    assert all(w.verdict is None for w in fine)
    many = [FakeWorker(100.0, {"probe_failures": 3}) for _ in range(4)]
    watch, _ = _watch(many)
    watch.tick(100.5, lag=0.0)
    assert watch.starved and all(w.verdict is None for w in many)
