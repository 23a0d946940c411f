"""The SQLite store: persistence, conflicts, refusal of foreign or corrupt files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from supervisor.errors import Conflict, StateError
from supervisor.store import Store


def test_sessions_survive_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path / "z.db")
    store.insert_session("a", "running", {"team": "sales"})
    store.insert_session("b", "stopped", {})
    store.update_session("a", restarts=3, last_error="boom", phone_number="244929782402")
    store.close()
    again = Store(tmp_path / "z.db")
    records = {r.id: r for r in again.list_sessions()}
    assert records["a"].restarts == 3 and records["a"].metadata == {"team": "sales"}
    assert records["a"].last_error == "boom" and records["b"].desired == "stopped"
    again.delete_session("b")
    assert [r.id for r in again.list_sessions()] == ["a"]
    again.close()


def test_duplicate_id_conflicts(tmp_path: Path) -> None:
    store = Store(tmp_path / "z.db")
    store.insert_session("a", "running", {})
    with pytest.raises(Conflict):
        store.insert_session("a", "running", {})


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\x00" * 50])
def test_corrupt_file_is_refused_and_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "z.db"
    path.write_bytes(content)
    with pytest.raises(StateError, match="left untouched"):
        Store(path)
    assert path.read_bytes() == content


def test_truncated_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "z.db"
    store = Store(path)
    for i in range(200):
        store.insert_session(f"s{i}", "running", {"pad": "x" * 200})
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateError):
        Store(path).list_sessions()
    assert path.stat().st_size == len(data) // 2


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "z.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="foreign"):
        Store(path)
