"""The dashboard's charts: a bounded history of figures per minute, kept with the events.

Nothing new is measured for it. It adds up what the daemon already has: ``message`` and
``message.sent`` events (messages received and sent), ``session.restart`` and
``session.recycled`` (restarts), ``session.resource`` samples (memory and CPU), and the
webhook outbox's pending count, read every ``_QUEUE_EVERY_S``. Each goes into a cell
(session, metric, minute) held in memory; the cells of finished minutes are written to the
``series`` table once a minute, in one transaction, so a busy daemon pays one small write a
minute whatever the number of events. Rows older than ``[events] charts_keep_h`` are deleted
on the same schedule (through an index on the minute). Counts are also kept for the whole
daemon, under the session ``""``, so that the fleet's charts read one scope, not every session.

A query adds up cells into buckets (a whole number of minutes) in SQL, over one scope's rows
within the kept window, then adds the cells not yet written: its cost is bounded by the window,
whatever is asked.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from supervisor.events.bus import Event
from supervisor.logs import get_logger
from supervisor.store import Store

__all__ = ["History", "COUNTERS", "GAUGES", "SESSION_METRICS", "DAEMON_METRICS", "MAX_BUCKETS"]

#: Metrics that count events: a bucket holds their number.
COUNTERS = ("messages_received", "messages_sent", "restarts")
#: Metrics that are samples: a bucket holds their mean (and, as ``<name>_max``, their largest).
GAUGES = ("memory_bytes", "cpu_percent", "webhook_queue")
SESSION_METRICS = ("messages_received", "messages_sent", "restarts", "memory_bytes", "cpu_percent")
DAEMON_METRICS = ("messages_received", "messages_sent", "restarts", "webhook_queue")
#: The most buckets one query may ask for.
MAX_BUCKETS = 1440

_MINUTE = 60
_QUEUE_EVERY_S = 15.0
_PRUNE_EVERY_S = 600.0
_DAEMON = ""
_UPSERT = (
    "INSERT INTO series (session, metric, minute, n, total, peak) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (session, metric, minute) DO UPDATE SET n = n + excluded.n, "
    "total = total + excluded.total, peak = max(peak, excluded.peak)"
)
_log = get_logger()

Cell = list[float]  # [n, total, peak]
Key = tuple[str, str, int]  # (session, metric, minute)


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


class History:
    """Owned by the hub: a bus listener (:meth:`on_event`), a loop (:meth:`run`, until
    :meth:`close`) and the query behind ``GET /api/history``. Event-loop only, like the store."""

    def __init__(self, store: Store, keep_h: float, queue_depth: Callable[[], int],
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._keep_s = keep_h * 3600
        self._queue_depth = queue_depth
        self._clock = clock
        self._cells: dict[Key, Cell] = {}
        self._stop = asyncio.Event()

    @property
    def keep_s(self) -> float:
        """How far back the history reaches, in seconds."""
        return self._keep_s

    # -- recording ----------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Bus listener: count or sample what the event tells."""
        name, session, payload = event["event"], event["session"], event["payload"]
        if not session:
            return
        minute = int(event["timestamp"] // _MINUTE)
        if name == "message":
            from_me = payload.get("from_me", payload.get("fromMe"))
            self._count(session, "messages_sent" if from_me else "messages_received", minute)
        elif name == "message.sent":
            self._count(session, "messages_sent", minute)
        elif name in ("session.restart", "session.recycled"):
            self._count(session, "restarts", minute)
        elif name == "session.resource":
            for metric in ("memory_bytes", "cpu_percent"):
                value = _number(payload.get(metric))
                if value is not None:
                    self._add((session, metric, minute), value)
        elif name == "session.deleted":
            self.forget(session)

    def _count(self, session: str, metric: str, minute: int) -> None:
        self._add((session, metric, minute), 1.0)
        self._add((_DAEMON, metric, minute), 1.0)

    def _add(self, key: Key, value: float) -> None:
        cell = self._cells.get(key)
        if cell is None:
            self._cells[key] = [1, value, value]
        else:
            cell[0] += 1
            cell[1] += value
            cell[2] = max(cell[2], value)

    def sample_queue(self) -> None:
        """Note the webhook queue's depth now."""
        minute = int(self._clock() // _MINUTE)
        self._add((_DAEMON, "webhook_queue", minute), float(self._queue_depth()))

    def forget(self, session: str) -> None:
        """Drop a deleted session's history (a new session of that name starts afresh)."""
        self._cells = {k: v for k, v in self._cells.items() if k[0] != session}
        with self._store.transaction() as db:
            db.execute("DELETE FROM series WHERE session = ?", (session,))

    def flush(self, everything: bool = False) -> int:
        """Write the cells of finished minutes (all of them with ``everything``); returns how
        many. A failed write is logged and its cells dropped: a gap in a chart, not a
        growing heap while the disk is full."""
        current = int(self._clock() // _MINUTE)
        done = {k: v for k, v in self._cells.items() if everything or k[2] < current}
        if not done:
            return 0
        for key in done:
            del self._cells[key]
        try:
            with self._store.transaction() as db:
                db.executemany(_UPSERT, [(*key, *cell) for key, cell in done.items()])
        except Exception:
            _log.exception("history.write_failed", cells=len(done))
            return 0
        return len(done)

    def prune(self) -> None:
        """Delete rows older than the kept window."""
        oldest = int((self._clock() - self._keep_s) // _MINUTE)
        with self._store.transaction() as db:
            db.execute("DELETE FROM series WHERE minute < ?", (oldest,))

    async def run(self) -> None:
        """Sample the webhook queue, write finished minutes, prune; until :meth:`close`."""
        pruned_at = -math.inf
        while not self._stop.is_set():
            try:
                self.sample_queue()
                self.flush()
                if time.monotonic() - pruned_at >= _PRUNE_EVERY_S:
                    self.prune()
                    pruned_at = time.monotonic()
            except Exception:
                _log.exception("history.round_failed")
            try:
                await asyncio.wait_for(self._stop.wait(), _QUEUE_EVERY_S)
            except TimeoutError:
                pass

    def close(self) -> None:
        """End :meth:`run` and write every cell (the daemon is stopping)."""
        self._stop.set()
        self.flush(everything=True)

    # -- reading ------------------------------------------------------------------------------

    def query(self, session: str | None, since: float, bucket_s: int) -> dict[str, Any]:
        """The series of ``session`` (None: the whole daemon) from ``since`` (Unix seconds,
        at most the kept window back) to now, in buckets of ``bucket_s`` (a multiple of 60)
        aligned on multiples of it. Counters give a number per bucket, gauges their mean, and
        ``<gauge>_max`` their largest sample; ``null`` where a gauge has no sample."""
        now = self._clock()
        start = int(max(since, now - self._keep_s, 0) // bucket_s * bucket_s)
        slots = max(1, math.ceil((now - start) / bucket_s))
        scope, metrics = (_DAEMON, DAEMON_METRICS) if session is None else (session, SESSION_METRICS)
        sums: dict[tuple[str, int], Cell] = {}

        def merge(metric: str, slot: int, n: float, total: float, peak: float) -> None:
            if 0 <= slot < slots:
                cell = sums.setdefault((metric, slot), [0, 0.0, -math.inf])
                cell[0] += n
                cell[1] += total
                cell[2] = max(cell[2], peak)

        rows = self._store.connection.execute(
            "SELECT metric, (minute * 60 - ?) / ? AS slot, sum(n), sum(total), max(peak) "
            "FROM series WHERE session = ? AND minute >= ? GROUP BY metric, slot",
            (start, bucket_s, scope, start // _MINUTE))
        for metric, slot, n, total, peak in rows:
            merge(metric, slot, n, total, peak)
        for (where, metric, minute), (n, total, peak) in self._cells.items():
            if where == scope:
                merge(metric, (minute * _MINUTE - start) // bucket_s, n, total, peak)
        series: dict[str, list[Any]] = {}
        for metric in metrics:
            cells = [sums.get((metric, slot)) for slot in range(slots)]
            if metric in COUNTERS:
                series[metric] = [int(c[1]) if c else 0 for c in cells]
            else:
                series[metric] = [round(c[1] / c[0], 2) if c else None for c in cells]
                series[f"{metric}_max"] = [round(c[2], 2) if c else None for c in cells]
        return {"session": session, "since": start, "until": round(now, 3), "bucket_s": bucket_s,
                "times": [start + slot * bucket_s for slot in range(slots)], "series": series}
