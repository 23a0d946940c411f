"""What a cluster node's relay (supervisor/cluster/relay.py) reads of the event journal, the
outbox's ``events`` table: the events after the last one it put in Redis, each with the webhook
targets the outbox stored with it (``Outbox.relayed``). Event-loop only, like the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from supervisor.events.bus import Event
from supervisor.store import Store

__all__ = ["Journaled", "RelayJournal"]


@dataclass(frozen=True)
class Journaled:
    """One journaled event and its webhook targets ((url, secret) pairs; None: journaled before
    this daemon was a cluster node, its webhooks were queued in the outbox)."""

    event: Event
    targets: list[tuple[str, str]] | None


def _targets(raw: Any) -> list[tuple[str, str]] | None:
    if raw is None:
        return None
    return [(str(url), str(secret)) for url, secret in json.loads(raw)]


class RelayJournal:
    """Reads of the journal for the relay."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.connection

    def after(self, after_id: int, limit: int) -> list[Journaled]:
        """The oldest ``limit`` events with an id above ``after_id``, in order."""
        rows = self._db.execute("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        return [Journaled({"id": row["id"], "event": row["event"], "session": row["session"],
                           "timestamp": row["timestamp"], "payload": json.loads(row["payload"])},
                          _targets(row["relay"])) for row in rows]

    def first_relayed(self) -> int | None:
        """The id of the oldest event still held that was journaled by a cluster node."""
        row = self._db.execute("SELECT min(id) FROM events WHERE relay IS NOT NULL").fetchone()
        return int(row[0]) if row[0] is not None else None

    def last_id(self) -> int:
        """The highest event id journaled (0: none)."""
        row = self._db.execute("SELECT max(id) FROM events").fetchone()
        return int(row[0] or 0)

    def relayed_to(self) -> int | None:
        """The last id this journal's relay saw Redis take (None: it never relayed)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'relayed_to'").fetchone()
        return int(row[0]) if row is not None else None

    def mark(self, event_id: int) -> None:
        """Redis took every event up to ``event_id``."""
        with self._store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('relayed_to', ?)", (str(event_id),))
