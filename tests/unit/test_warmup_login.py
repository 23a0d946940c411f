"""The date the warm-up counts a number's days from (supervisor/sessions/warmup.py): kept when the
same number logs in again, started again when a different number is linked to the session."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.procs.tracking import Tracking
from supervisor.sessions.backoff import CrashBreaker
from supervisor.sessions.context import SessionContext
from supervisor.sessions.liveness import HostWatch
from supervisor.sessions.session import Session
from supervisor.sessions.warmup import login_changes
from supervisor.settings import StateConfig
from supervisor.store import SessionRecord, Store
from worker import protocol

A, B = "244929782402", "244929782403"
T0, NOW = 1_767_225_600.0, 1_767_830_400.0  # a week apart


def _record(**values: object) -> SessionRecord:
    return SessionRecord(id="s", desired="running", created_at=T0 - 10, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("before", "phone", "after"), [
    # The first login: the number and its date.
    ({}, A, {"phone_number": A, "first_login_at": NOW, "first_login_phone": A}),
    # Logged in, reported again (each WORKING says so): nothing changes.
    ({"phone_number": A, "first_login_at": T0, "first_login_phone": A}, A, {}),
    # Logged out (the phone cleared), the same number links again: its date is kept.
    ({"first_login_at": T0, "first_login_phone": A}, A, {"phone_number": A}),
    # Logged out, a different number links: its own warm-up starts now.
    ({"first_login_at": T0, "first_login_phone": A}, B,
     {"phone_number": B, "first_login_at": NOW, "first_login_phone": B}),
    # A different number without a logout seen (the daemon was down meanwhile): the same.
    ({"phone_number": A, "first_login_at": T0, "first_login_phone": A}, B,
     {"phone_number": B, "first_login_at": NOW, "first_login_phone": B}),
    # A row from before the owner was recorded: the number linked then owns the date.
    ({"phone_number": A, "first_login_at": T0}, A, {"first_login_phone": A}),
    ({"phone_number": A, "first_login_at": T0}, B,
     {"phone_number": B, "first_login_at": NOW, "first_login_phone": B}),
    # ... and one logged out before it: whose date it was is unknown, so the warm-up starts again.
    ({"first_login_at": T0}, A, {"phone_number": A, "first_login_at": NOW, "first_login_phone": A}),
])
def test_the_warmup_date_belongs_to_the_number(before: dict[str, object], phone: str,
                                               after: dict[str, object]) -> None:
    assert login_changes(_record(**before), phone, NOW) == after


def _session(tmp_path: Path, store: Store) -> Session:
    config = Config(state=StateConfig(dir=str(tmp_path)))
    bus = EventBus()
    ctx = SessionContext(config=config, store=store, bus=bus, start_slots=asyncio.Semaphore(1),
                         breaker=CrashBreaker(config.limits), spawner=None,  # type: ignore[arg-type]
                         host=HostWatch(config.limits, config.chrome, config.sessions, bus, list),
                         tracking=Tracking(None, lambda: None, set), end_leftovers=None)  # type: ignore[arg-type]
    return Session(store.list_sessions()[0], ctx)


def _stored(store: Store) -> tuple[str | None, float | None, str | None]:
    record = store.list_sessions()[0]
    return record.phone_number, record.first_login_at, record.first_login_phone


def test_a_session_restarts_the_warmup_for_a_new_number_and_keeps_it_for_the_same(tmp_path: Path) -> None:
    """The worker's own events, as the session receives them, reach the database."""
    store = Store(tmp_path / "z.db")
    store.insert_session("s", "running", {})
    session = _session(tmp_path, store)
    working = {"state": protocol.WorkerState.WORKING}

    session._on_worker_event(protocol.EV_STATE, {**working, "phone_number": A})
    phone, first_a, owner = _stored(store)
    assert (phone, owner) == (A, A) and first_a is not None
    session._on_worker_event(protocol.EV_LOGOUT, {"origin": "phone", "phone_number": A})
    assert _stored(store) == (None, first_a, A)  # the number goes, its date stays
    session._on_worker_event(protocol.EV_STATE, {**working, "phone_number": A})
    assert _stored(store) == (A, first_a, A)  # the same number: the same age

    session._on_worker_event(protocol.EV_LOGOUT, {"origin": "phone", "phone_number": A})
    session._on_worker_event(protocol.EV_STATE, {**working, "phone_number": B})
    phone, first_b, owner = _stored(store)
    assert (phone, owner) == (B, B) and first_b is not None and first_b > first_a
    session._on_worker_event(protocol.EV_LOGOUT, {"origin": "phone", "phone_number": B})
    session._on_worker_event(protocol.EV_STATE, {**working, "phone_number": B})
    assert _stored(store) == (B, first_b, B)
    assert session.record == store.list_sessions()[0]  # memory and database agree
    store.close()


def test_an_older_database_learns_whose_date_it_holds(tmp_path: Path) -> None:
    """Schema 8 names the owner of each date already recorded: the number linked at the time."""
    path = tmp_path / "z.db"
    store = Store(path)
    store.insert_session("linked", "running", {})
    store.insert_session("logged-out", "stopped", {})
    store.insert_session("never", "stopped", {})
    store.update_session("linked", phone_number=A, first_login_at=T0)
    store.update_session("logged-out", first_login_at=T0)
    store.close()
    with sqlite3.connect(path) as db:  # back to schema 7, as an older zapvisor left it
        db.execute("ALTER TABLE sessions DROP COLUMN first_login_phone")
        db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    db.close()
    again = Store(path)
    upgraded = {r.id: r for r in again.list_sessions()}
    again.close()
    assert upgraded["linked"].first_login_phone == A
    assert upgraded["logged-out"].first_login_phone is None and upgraded["logged-out"].first_login_at == T0
    assert upgraded["never"].first_login_phone is None and upgraded["never"].first_login_at is None
