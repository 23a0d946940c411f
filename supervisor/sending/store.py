"""The send queue's rows: one per send (``sends``) and the chats each session may write to
without it being a first contact (``known_chats``); tables of supervisor/migrations.py #5.

An entry moves ``queued`` -> ``sending`` (its message id stored: from here on a crash is
reconciled, never sent blindly again) -> ``sent`` | ``failed``; a queued entry may be
``cancelled``. Rate limits count ``sent`` rows by ``sent_at`` (wall clock: windows outlive restarts).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from supervisor.errors import NotFound
from supervisor.store import Store

__all__ = ["OPEN", "TERMINAL", "Entry", "SendStore"]

OPEN = ("queued", "sending")
TERMINAL = ("sent", "failed", "cancelled")
_DAY_S = 86400.0


@dataclass(frozen=True)
class Entry:
    """One send of the queue."""

    id: int
    session: str
    chat: str
    kind: str  # "text" or a protocol.MediaKind
    payload: dict[str, Any]
    status: str
    msg_id: str | None
    wa_id: str | None
    idem_key: str | None
    created_at: float
    updated_at: float
    sent_at: float | None
    attempts: int
    held_by: str | None
    error_type: str | None
    error: str | None
    result: dict[str, Any] | None

    def public(self) -> dict[str, Any]:
        """The entry as the API shows it (no file paths)."""
        payload = {k: v for k, v in self.payload.items() if k not in ("path", "fingerprint")}
        return {"queue_id": self.id, "session": self.session, "to": self.chat, "kind": self.kind,
                "status": self.status, "id": self.wa_id, "created_at": self.created_at,
                "sent_at": self.sent_at, "attempts": self.attempts, "held_by": self.held_by,
                "error": ({"type": self.error_type, "message": self.error} if self.error else None),
                "result": self.result, **payload}


def _entry(row: sqlite3.Row) -> Entry:
    values = dict(row)
    values["payload"] = json.loads(values["payload"])
    values["result"] = json.loads(values["result"]) if values["result"] else None
    return Entry(**values)


class SendStore:
    """The queue's tables, on the daemon's database (event loop only, like the Store)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.connection

    def _one(self, entry_id: int) -> Entry:
        return _entry(self._db.execute("SELECT * FROM sends WHERE id = ?", (entry_id,)).fetchone())

    def insert(self, session: str, chat: str, kind: str, payload: dict[str, Any],
               idem_key: str | None) -> Entry:
        """Store a new queued entry (committed when this returns)."""
        now = time.time()
        with self._store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO sends (session, chat, kind, payload, status, idem_key, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
                (session, chat, kind, json.dumps(payload), idem_key, now, now))
        return self._one(int(cursor.lastrowid or 0))

    def by_idem_key(self, session: str, key: str, ttl_s: float) -> Entry | None:
        """The entry stored under ``key`` within the last ``ttl_s``; an older one gives its key up."""
        row = self._db.execute("SELECT * FROM sends WHERE session = ? AND idem_key = ?",
                               (session, key)).fetchone()
        if row is None:
            return None
        if row["created_at"] >= time.time() - ttl_s:
            return _entry(row)
        with self._store.transaction() as db:
            db.execute("UPDATE sends SET idem_key = NULL WHERE id = ?", (row["id"],))
        return None

    def get(self, session: str, entry_id: int) -> Entry:
        """One entry of ``session``; NotFound otherwise."""
        row = self._db.execute("SELECT * FROM sends WHERE id = ? AND session = ?",
                               (entry_id, session)).fetchone()
        if row is None:
            raise NotFound(f"session {session!r} has no queued send {entry_id}")
        return _entry(row)

    def select(self, session: str, statuses: tuple[str, ...], limit: int) -> list[Entry]:
        """Entries of ``session`` in these statuses, oldest first."""
        marks = ", ".join("?" * len(statuses))
        rows = self._db.execute(f"SELECT * FROM sends WHERE session = ? AND status IN ({marks}) "
                                "ORDER BY id LIMIT ?", (session, *statuses, limit)).fetchall()
        return [_entry(r) for r in rows]

    def update(self, entry: Entry, **values: Any) -> Entry:
        """Change some columns of an entry (one transaction); the entry as stored now."""
        if "result" in values:
            values["result"] = json.dumps(values["result"])
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._store.transaction() as db:
            db.execute(f"UPDATE sends SET {assignments} WHERE id = ?", (*values.values(), entry.id))
        return self._one(entry.id)

    def cancel(self, entry: Entry) -> bool:
        """Cancel ``entry`` if it is still queued (never once its send began)."""
        with self._store.transaction() as db:
            changed = db.execute("UPDATE sends SET status = 'cancelled', updated_at = ? "
                                 "WHERE id = ? AND status = 'queued'", (time.time(), entry.id)).rowcount
        return changed == 1

    def holds_file(self, session: str, path: str) -> bool:
        """Whether an open entry of ``session`` sends the file at ``path``."""
        row = self._db.execute("SELECT 1 FROM sends WHERE session = ? AND status IN ('queued', "
                               "'sending') AND json_extract(payload, '$.path') = ?", (session, path)).fetchone()
        return row is not None

    def open_files(self) -> set[str]:
        """The files every open entry still has to send."""
        rows = self._db.execute("SELECT json_extract(payload, '$.path') FROM sends WHERE status IN "
                                "('queued', 'sending') AND json_extract(payload, '$.path') IS NOT NULL")
        return {str(r[0]) for r in rows}

    def sessions_with_open(self) -> list[str]:
        """Every session that has queued or in-flight entries."""
        rows = self._db.execute("SELECT DISTINCT session FROM sends WHERE status IN "
                                "('queued', 'sending')").fetchall()
        return [r[0] for r in rows]

    def depths(self) -> dict[str, tuple[int, float]]:
        """Per session with open entries: (how many, the oldest one's created_at)."""
        rows = self._db.execute("SELECT session, count(*), min(created_at) FROM sends WHERE status "
                                "IN ('queued', 'sending') GROUP BY session").fetchall()
        return {r[0]: (int(r[1]), float(r[2])) for r in rows}

    # -- what the limits count ------------------------------------------------------------

    def sent_times(self, session: str, since: float, cap: int, chat: str | None = None) -> list[float]:
        """The newest ``cap`` send times of ``session`` after ``since`` (to ``chat`` only, if
        given), newest first."""
        where, args = ("AND chat = ?", (chat,)) if chat is not None else ("", ())
        rows = self._db.execute(f"SELECT sent_at FROM sends WHERE session = ? AND sent_at > ? {where} "
                                "ORDER BY sent_at DESC LIMIT ?", (session, since, *args, cap)).fetchall()
        return [float(r[0]) for r in rows]

    def first_contacts(self, session: str, since: float, cap: int) -> list[float]:
        """When ``session`` began its newest ``cap`` conversations after ``since``, newest first."""
        rows = self._db.execute("SELECT first_at FROM known_chats WHERE session = ? AND we_began = 1 "
                                "AND first_at > ? ORDER BY first_at DESC LIMIT ?",
                                (session, since, cap)).fetchall()
        return [float(r[0]) for r in rows]

    def known(self, session: str, chats: tuple[str, ...]) -> bool:
        """Whether any of ``chats`` (ids of one contact) wrote to us or was written to before."""
        marks = ", ".join("?" * len(chats))
        row = self._db.execute(f"SELECT 1 FROM known_chats WHERE session = ? AND chat IN ({marks})",
                               (session, *chats)).fetchone()
        return row is not None

    def note_chats(self, session: str, chats: tuple[str, ...], we_began: bool) -> None:
        """Remember ``chats`` as known (kept as first noted)."""
        now = time.time()
        with self._store.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO known_chats (session, chat, first_at, we_began) "
                           "VALUES (?, ?, ?, ?)", [(session, c, now, int(we_began)) for c in chats])

    # -- housekeeping ---------------------------------------------------------------------

    def prune(self, keep_days: float, idempotency_h: float) -> list[Entry]:
        """Delete finished entries older than ``keep_days`` (never newer than a day: the daily
        limits count them) and forget idempotency keys past ``idempotency_h``; the entries
        deleted (their files go too)."""
        now = time.time()
        cutoff = now - max(keep_days * _DAY_S, _DAY_S)
        rows = self._db.execute("SELECT * FROM sends WHERE status IN ('sent', 'failed', 'cancelled') "
                                "AND updated_at < ?", (cutoff,)).fetchall()
        with self._store.transaction() as db:
            db.execute("DELETE FROM sends WHERE status IN ('sent', 'failed', 'cancelled') "
                       "AND updated_at < ?", (cutoff,))
            db.execute("UPDATE sends SET idem_key = NULL WHERE idem_key IS NOT NULL AND created_at < ?",
                       (now - idempotency_h * 3600,))
        return [_entry(r) for r in rows]

    def delete_session(self, session: str) -> None:
        """Forget everything of a deleted session."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM sends WHERE session = ?", (session,))
            db.execute("DELETE FROM known_chats WHERE session = ?", (session,))
