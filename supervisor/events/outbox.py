"""The durable outbox: the event journal and the webhook deliveries, in the state database.

An event is written with one delivery row per webhook that wants it, in one transaction,
before the bus shows it to anyone: what was published survives a restart or a ``kill -9``.
A delivery is ``pending`` until a receiver accepted it (``delivered``) or zapvisor gave up
(``failed``, kept for inspection and a manual retry). Deliveries form *lanes*, one per
(session, url): a lane sends its oldest pending delivery first and one at a time, which is
what keeps each session's events in order at each receiver.

On a cluster node (``relayed``) an event is journaled with its receivers instead, and the
cluster delivers them (supervisor/cluster/relay.py puts both in Redis); the journal then keeps
what the relay has not sent yet (``keep_after``).

Every call is a short synchronous transaction from the event loop; no HTTP happens here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from supervisor.errors import Conflict, NotFound
from supervisor.events.bus import Event
from supervisor.events.lanes import STATUSES, Delivery, Lane, Target
from supervisor.logs import get_logger
from supervisor.store import Store

__all__ = ["Outbox", "Delivery", "Target", "Lane", "STATUSES"]

_PRUNE_EVERY = 200  # events between two prunes of the journal
_log = get_logger()


_SELECT = """
SELECT d.*, e.event AS e_event, e.session AS e_session, e.timestamp AS e_timestamp,
       e.payload AS e_payload
FROM deliveries d JOIN events e ON e.id = d.event_id
"""


def _event(row: sqlite3.Row) -> Event:
    return {"id": row["id"], "event": row["event"], "session": row["session"],
            "timestamp": row["timestamp"], "payload": json.loads(row["payload"])}


def _delivery(row: sqlite3.Row) -> Delivery:
    keys = ("id", "event_id", "session", "url", "secret", "status", "attempts", "next_at",
            "created_at", "updated_at", "last_status", "last_error")
    event = {"id": row["event_id"], "event": row["e_event"], "session": row["e_session"],
             "timestamp": row["e_timestamp"], "payload": json.loads(row["e_payload"])}
    return Delivery(**{k: row[k] for k in keys}, event=event)


class Outbox:
    """The journal and delivery tables. Event-loop only, like the store."""

    def __init__(self, store: Store, history: int, keep_failed: int,
                 max_pending_per_lane: int = 10000) -> None:
        self._store = store
        self._db = store.connection
        self._history = history
        self._keep_failed = keep_failed
        self._max_pending = max_pending_per_lane
        #: A cluster node's outbox: an event's targets are kept with it for the relay to Redis
        #: (the cluster delivers them), no delivery row is made here.
        self.relayed = False
        #: Events above this id are kept by prune (the relay has not put them in Redis yet).
        self.keep_after: Callable[[], int] | None = None

    # -- the journal ------------------------------------------------------------------------

    def last_event_id(self) -> int:
        """The highest event id ever stored (0 for a new database)."""
        row = self._db.execute("SELECT max(id) FROM events").fetchone()
        return int(row[0] or 0)

    def recent_events(self, limit: int) -> list[Event]:
        """The latest ``limit`` events, oldest first (the bus's history after a restart)."""
        rows = self._db.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
        return [_event(row) for row in reversed(rows.fetchall())]

    def record(self, event: Event, targets: Sequence[Target]) -> tuple[list[Lane], list[Lane]]:
        """Store ``event`` and one delivery per target, atomically: (the lanes it was queued
        in, the lanes that were full). A lane already holding ``max_pending_per_lane`` pending
        deliveries (a receiver down for long) gets this one as ``failed`` instead, so that the
        queue, and the database, stay bounded; it can still be re-queued by hand. Relayed:
        the targets are stored with the event, and nothing is queued here."""
        now = time.time()
        session = event["session"] or ""
        relay = json.dumps([[t.url, t.secret] for t in targets]) if self.relayed else None
        with self._store.transaction() as db:
            db.execute(
                "INSERT INTO events (id, event, session, timestamp, payload, relay) VALUES (?, ?, ?, ?, ?, ?)",
                (event["id"], event["event"], event["session"], event["timestamp"],
                 json.dumps(event["payload"]), relay),
            )
            targets = () if self.relayed else targets
            queued: list[Lane] = []
            full: list[Lane] = []
            for target in targets:
                lane = (session, target.url)
                is_full = self._pending_in(db, lane) >= self._max_pending
                (full if is_full else queued).append(lane)
                db.execute(
                    "INSERT INTO deliveries (event_id, session, url, secret, status, next_at, "
                    "created_at, updated_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (event["id"], session, target.url, target.secret,
                     "failed" if is_full else "pending", now, now, now,
                     f"not queued: {self._max_pending} deliveries already pending for this "
                     "receiver (max_pending_per_receiver)" if is_full else None))
        if event["id"] % _PRUNE_EVERY == 0:
            try:
                self.prune()
            except Exception:  # the event is stored: a failed clean-up must not hide that
                _log.exception("outbox.prune_failed")
        return queued, full

    def _pending_in(self, db: sqlite3.Connection, lane: Lane) -> int:
        """Pending deliveries of ``lane``, counted up to the cap only (an index range)."""
        row = db.execute("SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE status = 'pending' "
                         "AND session = ? AND url = ? LIMIT ?)", (*lane, self._max_pending)).fetchone()
        return int(row[0])

    def prune(self) -> None:
        """Forget events beyond the history that no delivery needs, delivered rows of those
        events, and the oldest failed deliveries beyond ``keep_failed``."""
        cutoff = self.last_event_id() - self._history
        if self.keep_after is not None:
            cutoff = min(cutoff, self.keep_after())
        with self._store.transaction() as db:
            db.execute("DELETE FROM deliveries WHERE status = 'delivered' AND event_id <= ?",
                       (cutoff,))
            db.execute("DELETE FROM deliveries WHERE status = 'failed' AND id NOT IN "
                       "(SELECT id FROM deliveries WHERE status = 'failed' "
                       "ORDER BY id DESC LIMIT ?)", (self._keep_failed,))
            db.execute("DELETE FROM events WHERE id <= ? AND NOT EXISTS "
                       "(SELECT 1 FROM deliveries WHERE event_id = events.id)", (cutoff,))

    # -- deliveries ---------------------------------------------------------------------------

    def pending_lanes(self) -> list[Lane]:
        """Every lane with something left to send (at boot: what a previous run left)."""
        rows = self._db.execute(
            "SELECT DISTINCT session, url FROM deliveries WHERE status = 'pending'")
        return [(row["session"], row["url"]) for row in rows]

    def head(self, lane: Lane) -> Delivery | None:
        """The oldest pending delivery of ``lane``: the only one that may be sent now."""
        row = self._db.execute(
            _SELECT + "WHERE d.status = 'pending' AND d.session = ? AND d.url = ? "
            "ORDER BY d.id LIMIT 1", lane).fetchone()
        return _delivery(row) if row else None

    def get(self, delivery_id: int) -> Delivery:
        """One delivery, or NotFound."""
        row = self._db.execute(_SELECT + "WHERE d.id = ?", (delivery_id,)).fetchone()
        if row is None:
            raise NotFound(f"webhook delivery {delivery_id} does not exist")
        return _delivery(row)

    def _update(self, delivery_id: int, **values: Any) -> None:
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._store.transaction() as db:
            db.execute(f"UPDATE deliveries SET {assignments} WHERE id = ?",
                       (*values.values(), delivery_id))

    def delivered(self, delivery: Delivery, attempts: int, status: int) -> None:
        """The receiver accepted it."""
        self._update(delivery.id, status="delivered", attempts=attempts, last_status=status,
                     last_error=None)

    def retry_at(self, delivery: Delivery, attempts: int, next_at: float, status: int | None,
                 error: str) -> None:
        """It failed for now; try again at wall time ``next_at``."""
        self._update(delivery.id, attempts=attempts, next_at=next_at, last_status=status,
                     last_error=error)

    def failed(self, delivery: Delivery, attempts: int, status: int | None, error: str) -> None:
        """Give up on it (kept, listed, retryable by hand)."""
        self._update(delivery.id, status="failed", attempts=attempts, last_status=status,
                     last_error=error)

    def requeue(self, delivery_id: int) -> Delivery:
        """Put a failed delivery back in its lane, as new; Conflict unless it failed."""
        current = self.get(delivery_id)
        if current.status != "failed":
            raise Conflict(f"webhook delivery {delivery_id} is {current.status}, not failed")
        now = time.time()
        self._update(delivery_id, status="pending", attempts=0, next_at=now, created_at=now)
        return self.get(delivery_id)

    def select(self, status: str | None, session: str | None, limit: int) -> list[Delivery]:
        """Deliveries, newest first, optionally of one status and one session."""
        where, args = [], []
        if status is not None:
            where.append("d.status = ?")
            args.append(status)
        if session is not None:
            where.append("d.session = ?")
            args.append(session)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._db.execute(_SELECT + clause + "ORDER BY d.id DESC LIMIT ?", (*args, limit))
        return [_delivery(row) for row in rows]

    def pending_count(self) -> int:
        """How many deliveries wait to be sent (an index range, not a scan of the table)."""
        return int(self._db.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()[0])

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        counted = dict.fromkeys(STATUSES, 0)
        rows = self._db.execute("SELECT status, count(*) FROM deliveries GROUP BY status")
        counted.update({row[0]: row[1] for row in rows})
        return counted

    # -- per-session webhooks -----------------------------------------------------------------

    def session_hooks(self) -> dict[str, list[dict[str, Any]]]:
        """Every session's webhooks as stored: {session: [{"url", "events", "secret"}]}."""
        found: dict[str, list[dict[str, Any]]] = {}
        rows = self._db.execute("SELECT * FROM session_webhooks ORDER BY session, position")
        for row in rows:
            found.setdefault(row["session"], []).append(
                {"url": row["url"], "events": json.loads(row["events"]), "secret": row["secret"]})
        return found

    def set_session_hooks(self, session: str, hooks: Sequence[dict[str, Any]]) -> None:
        """Replace one session's webhooks."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM session_webhooks WHERE session = ?", (session,))
            db.executemany(
                "INSERT INTO session_webhooks (session, position, url, events, secret) "
                "VALUES (?, ?, ?, ?, ?)",
                [(session, n, h["url"], json.dumps(list(h["events"])), h["secret"])
                 for n, h in enumerate(hooks)],
            )
