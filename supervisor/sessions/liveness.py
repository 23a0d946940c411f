"""Telling a hung session from a starved host: the one place a worker is ended for silence.

A worker is declared hung only on its own evidence:

- its heartbeat is over ``heartbeat_timeout_s`` late, or
- its worker answers but Chrome does not: both CDP probes failed ``CDP_STRIKES`` rounds in a
  row (Chrome hung), or the page probe has failed for longer than ``page_timeout_s`` plus a
  probe timeout (the renderer hung);

and only while the host is not starved. The host is starved when this daemon's own event loop
runs late (measured here: every tick is scheduled, and how late it wakes is the lag), or when
many workers are late together (at least ``starved_late_share`` of the live ones, and at least
``_MIN_LATE``): one hung process is alone, a CPU-starved machine delays everyone. Then nothing
is killed, a ``host.starved`` event says so (and another when it ends), ``/health/ready``
reports it, and once it ends every worker gets a full ``heartbeat_timeout_s`` again. The
CPU pressure the kernel reports (``/proc/pressure/cpu``, where it exists) is read and shown
with it. A worker silent for ``_ABSOLUTE_FACTOR`` times the timeout is ended even then.

Start deadlines stretch the same way: :meth:`HostWatch.unstarved_since` counts only the time
the host was not starved.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from supervisor.events.bus import EventBus
from supervisor.logs import get_logger
from supervisor.procs.process import SupervisorCause, WorkerProcess
from supervisor.settings import ChromeConfig, LimitsConfig, SessionsConfig
from worker import protocol

__all__ = ["HostWatch", "cpu_pressure"]

CDP_STRIKES = 3
_TICK_S = 0.5
_LAG_WINDOW_S = 5.0
_MIN_LATE = 3
_ABSOLUTE_FACTOR = 10
_PSI_EVERY_S = 5.0

_log = get_logger()


def cpu_pressure() -> float | None:
    """``some avg10`` of ``/proc/pressure/cpu``: the share of the last 10 s in which some task
    waited for a CPU, in percent; None where the kernel has no PSI."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as file:
            for line in file:
                if line.startswith("some "):
                    return float(line.split()[1].partition("=")[2])
    except (OSError, ValueError, IndexError):
        return None
    return None


class HostWatch:
    """Watches every live worker and the daemon's own loop; owned by the daemon's TaskGroup
    (``run``)."""

    def __init__(self, limits: LimitsConfig, chrome: ChromeConfig, sessions: SessionsConfig,
                 bus: EventBus, workers: Callable[[], Iterable[WorkerProcess]]) -> None:
        self._limits = limits
        self._chrome = chrome
        self._stop_timeout_s = sessions.stop_timeout_s
        self._bus = bus
        self._workers = workers
        self._lags: deque[tuple[float, float]] = deque()  # (when, lag) over the last window
        self.starved = False
        self.reasons: list[str] = []
        self.starved_at = 0.0
        self.unstarved_at = 0.0  # when the last starvation ended
        self.starved_total_s = 0.0  # over the daemon's life: stretches start deadlines
        self.episodes = 0
        self.pressure: float | None = None
        self._pressure_at = -_PSI_EVERY_S

    @property
    def loop_lag_s(self) -> float:
        """The worst lag of this daemon's event loop over the last few seconds."""
        return max((lag for _, lag in self._lags), default=0.0)

    def starved_seconds(self, now: float) -> float:
        """Starved time so far, the current episode included."""
        return self.starved_total_s + (now - self.starved_at if self.starved else 0.0)

    def unstarved_since(self, started: float, starved_then: float, now: float) -> float:
        """Seconds since ``started`` during which the host was not starved (``starved_then``
        is :meth:`starved_seconds` at ``started``)."""
        return (now - started) - (self.starved_seconds(now) - starved_then)

    def budget(self, seconds: float) -> Callable[[], float]:
        """A deadline of ``seconds`` from now that does not run while the host is starved:
        call the result for the seconds left."""
        started = time.monotonic()
        starved_then = self.starved_seconds(started)
        return lambda: seconds - self.unstarved_since(started, starved_then, time.monotonic())

    def status(self) -> dict[str, Any]:
        """For /health/ready and /api/stats."""
        return {"starved": self.starved, "reasons": list(self.reasons),
                "loop_lag_ms": round(self.loop_lag_s * 1000, 1), "cpu_pressure": self.pressure,
                "episodes": self.episodes}

    async def run(self) -> None:
        """Tick until cancelled; a failing tick is logged, never fatal."""
        expected = time.monotonic() + _TICK_S
        while True:
            await asyncio.sleep(max(0.0, expected - time.monotonic()))
            now = time.monotonic()
            try:
                self.tick(now, lag=max(0.0, now - expected))
            except Exception:
                _log.exception("liveness.tick_failed")
            expected = now + _TICK_S

    def tick(self, now: float, lag: float) -> None:
        """One round: measure, decide starvation, end the hung."""
        self._lags.append((now, lag))
        while self._lags and self._lags[0][0] < now - _LAG_WINDOW_S:
            self._lags.popleft()
        if now - self._pressure_at >= _PSI_EVERY_S:
            self._pressure_at, self.pressure = now, cpu_pressure()
        live = [w for w in self._workers() if w.returncode is None and not w.hung and w.started_at]
        timeout = self._limits.heartbeat_timeout_s
        late_after = max(3 * self._limits.heartbeat_interval_s, timeout / 2)
        silences = {id(w): now - max(w.last_heartbeat_at, self.unstarved_at) for w in live}
        evidence = {id(w): self._evidence(w) for w in live}
        late = sum(1 for w in live if silences[id(w)] > late_after or evidence[id(w)])
        reasons = []
        if self.loop_lag_s >= self._limits.starved_loop_lag_s:
            reasons.append(f"the daemon's event loop ran {self.loop_lag_s:.1f}s late")
        if late >= max(_MIN_LATE, self._limits.starved_late_share * len(live)):
            reasons.append(f"{late} of {len(live)} workers late together")
        self._set_starved(bool(reasons), reasons, now, late, len(live))
        for worker in live:
            # Measured again: a starvation that ended in this very tick restarts every clock.
            silent = now - max(worker.last_heartbeat_at, self.unstarved_at)
            if silent > _ABSOLUTE_FACTOR * timeout or (not self.starved and silent > timeout):
                worker.declare_hung(SupervisorCause.HEARTBEAT_TIMEOUT,
                                    f"no heartbeat for {silent:.1f}s (limit {timeout:g}s)", None)
            elif not self.starved and (verdict := evidence[id(worker)]):
                worker.declare_hung(verdict[0], verdict[1], self._stop_timeout_s)

    def _evidence(self, worker: WorkerProcess) -> tuple[str, str] | None:
        """Its own CDP evidence of a hung Chrome or page, from its latest heartbeat."""
        beat = worker.heartbeat
        failures = beat.get("probe_failures")
        if isinstance(failures, int) and failures >= CDP_STRIKES:
            return protocol.ExitKind.CDP_UNRESPONSIVE, "Chrome not answering CDP"
        stalled = beat.get("page_stalled_s")
        limit = self._chrome.page_timeout_s + max(self._limits.probe_interval_s, 2.0)
        if isinstance(stalled, (int, float)) and stalled > limit:
            return protocol.ExitKind.PAGE_UNRESPONSIVE, f"page not answering CDP for {stalled:.1f}s"
        return None

    def _set_starved(self, starved: bool, reasons: list[str], now: float, late: int,
                     live: int) -> None:
        self.reasons = reasons
        if starved == self.starved:
            return
        self.starved = starved
        if starved:
            self.starved_at = now
            self.episodes += 1
            _log.warning("host.starved", reasons=reasons, late_workers=late, live_workers=live,
                         cpu_pressure=self.pressure)
            self._bus.publish("host.starved", None, {
                "starved": True, "reasons": reasons, "late_workers": late, "live_workers": live,
                "loop_lag_ms": round(self.loop_lag_s * 1000, 1), "cpu_pressure": self.pressure})
        else:
            duration = now - self.starved_at
            self.starved_total_s += duration
            self.unstarved_at = now
            _log.info("host.recovered", starved_s=round(duration, 1))
            self._bus.publish("host.starved", None, {"starved": False,
                                                     "duration_s": round(duration, 1)})
