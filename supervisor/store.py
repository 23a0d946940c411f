"""SQLite state: sessions and their desired state survive restarts and ``kill -9``.

Every write is one transaction in WAL mode. A file that is not a zapvisor database (foreign,
truncated, corrupt) is refused with a clear message and never overwritten.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor import jsonlimits
from supervisor.errors import Conflict, StateError, Unavailable
from supervisor.logs import get_logger
from supervisor.migrations import MIGRATIONS

__all__ = ["Store", "SessionRecord", "SCHEMA_VERSION"]

_APP = "zapvisor"
_log = get_logger()

SCHEMA_VERSION = max(MIGRATIONS)

_UPDATABLE = frozenset({"desired", "restarts", "last_exit", "last_error", "phone_number", "metadata",
                        "options", "first_login_at", "first_login_phone"})
_JSON_COLUMNS = ("metadata", "options")


@dataclass(frozen=True)
class SessionRecord:
    """One row of the sessions table."""

    id: str
    desired: str
    created_at: float
    metadata: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    last_exit: str | None = None
    last_error: str | None = None
    phone_number: str | None = None
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold a proxy's password
    first_login_at: float | None = None
    first_login_phone: str | None = None  # the number first_login_at belongs to (sessions/warmup.py)


def _metadata(session_id: str, text: str) -> dict[str, Any]:
    """A session's stored metadata. Metadata an older zapvisor let in (nested 1,000 deep, NaN)
    would make every listing fail, so it is read as {} instead, with a warning."""
    try:
        value = jsonlimits.loads(text)
        problem = jsonlimits.metadata_problem(value)
    except ValueError as exc:
        problem = str(exc)
    if problem is None:
        return dict(value)
    _log.warning("session.metadata_dropped", session_id=session_id, reason=problem)
    return {}


class Store:
    """The daemon's database. Not thread-safe: used from the event loop only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        existed = path.exists() and path.stat().st_size > 0
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
            self._db.row_factory = sqlite3.Row
            if existed:
                self._check_existing()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate(self._version() if existed else 0)
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"{path} is not a usable zapvisor database ({exc}); it was left untouched: "
                "move it away to start with an empty state, or point [state] dir elsewhere"
            ) from None

    def _check_existing(self) -> None:
        row = self._db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row[0] if row else 'no answer'}")
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            raise sqlite3.DatabaseError("it has no zapvisor meta table (a foreign database?)")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("app") != _APP:
            raise sqlite3.DatabaseError(f"its meta table names app {meta.get('app')!r}")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this zapvisor's {SCHEMA_VERSION}"
            )

    def _version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, current: int) -> None:
        for version in sorted(v for v in MIGRATIONS if v > current):
            with self._transaction():
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                if version == 1:
                    self._db.execute("INSERT INTO meta (key, value) VALUES ('app', ?)", (_APP,))
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(version),),
                )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the write lock is taken up front). A write
        that fails for want of disk is a 503 for the client, and nothing half-written stays."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()
        except sqlite3.OperationalError as exc:
            if self._db.in_transaction:
                self._db.rollback()
            raise Unavailable(f"cannot write the state database {self.path}: {exc}") from None

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection, for modules that own tables of their own (the outbox). Reads only:
        write through :meth:`transaction`."""
        return self._db

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction: ``with store.transaction() as db: ...``."""
        return self._transaction()

    def ping(self) -> None:
        """Fail if the database no longer answers (a health check)."""
        self._db.execute("SELECT count(*) FROM sessions").fetchone()

    def close(self) -> None:
        """Close the database (a checkpoint of the WAL happens here)."""
        self._db.close()

    @staticmethod
    def _record(row: sqlite3.Row) -> SessionRecord:
        values = dict(row)
        values["metadata"] = _metadata(values["id"], values["metadata"])
        values["options"] = json.loads(values["options"])  # only zapvisor writes it
        return SessionRecord(**values)

    def list_sessions(self) -> list[SessionRecord]:
        """Every session, oldest first."""
        rows = self._db.execute("SELECT * FROM sessions ORDER BY created_at, id").fetchall()
        return [self._record(r) for r in rows]

    def insert_session(self, session_id: str, desired: str, metadata: dict[str, Any],
                       options: dict[str, Any] | None = None) -> SessionRecord:
        """Add a session; Conflict if the id is taken."""
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT INTO sessions (id, desired, created_at, metadata, options) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (session_id, desired, time.time(), json.dumps(metadata), json.dumps(options or {})),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"session {session_id!r} already exists") from None
        row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return self._record(row)

    def update_session(self, session_id: str, **values: Any) -> None:
        """Change some columns of one session."""
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        for column in _JSON_COLUMNS:
            if column in values:
                values[column] = json.dumps(values[column])
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._transaction():
            self._db.execute(
                f"UPDATE sessions SET {assignments} WHERE id = ?", (*values.values(), session_id)
            )

    def delete_session(self, session_id: str) -> None:
        """Remove a session's row (and its role memberships)."""
        with self._transaction():
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self._db.execute("DELETE FROM roles WHERE session_id = ?", (session_id,))
