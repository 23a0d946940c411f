"""Roles: named groups of sessions ("sales", "coordination"), stored in the database, and the
router that picks the session a send goes through (a named one, a role's, or the default).

A role lists sessions in order; sending "by role" goes round-robin over those that are WORKING
right now, so traffic spreads over the numbers of a role and skips one that is logging in or
restarting. Every change publishes ``role.updated``.
"""

from __future__ import annotations

from typing import Any

from supervisor.errors import Conflict, InvalidRequest, NotFound, ZapvisorError
from supervisor.events.bus import EventBus
from supervisor.logs import get_logger
from supervisor.sessions.registry import Registry
from supervisor.sessions.session import Session
from supervisor.settings import SESSION_ID_RE
from supervisor.states import State
from supervisor.store import Store

__all__ = ["Roles", "check_role", "start_default_session"]

_log = get_logger()


def check_role(value: object) -> str:
    """A valid role name, or InvalidRequest."""
    if not isinstance(value, str) or not SESSION_ID_RE.fullmatch(value):
        raise InvalidRequest(f"invalid role name {value!r}: use 1-64 letters, digits, '_' or '-', "
                             "starting with a letter or digit")
    return value


class Roles:
    """Role -> sessions (the ``roles`` table), with a round-robin cursor per role."""

    def __init__(self, store: Store, bus: EventBus, registry: Registry) -> None:
        self._store = store
        self._bus = bus
        self._registry = registry
        self._cursor: dict[str, int] = {}  # role -> index of the next session to try

    def all(self) -> dict[str, list[str]]:
        """Every role with its sessions, in order."""
        roles: dict[str, list[str]] = {}
        rows = self._store.connection.execute(
            "SELECT role, session_id FROM roles ORDER BY role, position").fetchall()
        for role, session_id in rows:
            roles.setdefault(role, []).append(session_id)
        return roles

    def get(self, role: str) -> list[str]:
        """The sessions of ``role``; NotFound if it has none."""
        sessions = self.all().get(check_role(role))
        if not sessions:
            raise NotFound(f"role {role!r} does not exist (PUT /api/roles/{role} to create it)")
        return sessions

    def describe(self, role: str, sessions: list[str]) -> dict[str, Any]:
        """A role as JSON, with which of its sessions can send now."""
        known = self._registry.sessions
        return {"role": role, "sessions": sessions,
                "working": [s for s in sessions if s in known and known[s].state == State.WORKING]}

    def set(self, role: str, sessions: object) -> list[str]:
        """Replace the sessions of ``role`` (an empty list deletes it); publishes role.updated."""
        check_role(role)
        if not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions):
            raise InvalidRequest("sessions must be a list of session ids")
        if len(set(sessions)) != len(sessions):
            raise InvalidRequest("sessions lists a session twice")
        unknown = [s for s in sessions if s not in self._registry.sessions]
        if unknown:
            raise InvalidRequest(f"no such session(s): {', '.join(map(repr, unknown))}")
        previous = self.all().get(role, [])
        with self._store.transaction() as db:
            db.execute("DELETE FROM roles WHERE role = ?", (role,))
            db.executemany("INSERT INTO roles (role, position, session_id) VALUES (?, ?, ?)",
                           [(role, i, s) for i, s in enumerate(sessions)])
        self._cursor.pop(role, None)
        _log.info("role.updated", role=role, sessions=sessions)
        self._bus.publish("role.updated", None, {"role": role, "sessions": sessions, "previous": previous})
        return list(sessions)

    def pick(self, role: str) -> Session:
        """The next WORKING session of ``role``, round-robin; Conflict if none is WORKING."""
        sessions = self.get(role)
        start = self._cursor.get(role, 0)
        for step in range(len(sessions)):
            index = (start + step) % len(sessions)
            session = self._registry.sessions.get(sessions[index])
            if session is not None and session.state == State.WORKING:
                self._cursor[role] = index + 1
                return session
        states = ", ".join(f"{s} {self._state_of(s)}" for s in sessions)
        raise Conflict(f"no session of role {role!r} is WORKING ({states})")

    def _state_of(self, session_id: str) -> str:
        session = self._registry.sessions.get(session_id)
        return str(session.state) if session is not None else "deleted"

    def route(self, session_id: object, role: object) -> Session:
        """The session a send goes through: the named one, else a role's, else the default."""
        if session_id is not None and role is not None:
            raise InvalidRequest("give either a session or a role, not both")
        if role is not None:
            return self.pick(check_role(role))
        if session_id is not None:
            if not isinstance(session_id, str):
                raise InvalidRequest(f"sessionId must be a string, got {session_id!r}")
            return self._registry.get(session_id)
        default = self._registry.config.sessions.default_session
        session = self._registry.sessions.get(default)
        if session is None:
            raise NotFound(f"no session given and the default session {default!r} does not exist "
                           "(create it, or set [sessions] start_default_session)")
        return session


async def start_default_session(registry: Registry) -> None:
    """``[sessions] start_default_session``: at boot, create the default session, or start it
    if it exists but does not run. A refusal (admission, max_sessions) is logged, not fatal."""
    name = registry.config.sessions.default_session
    session = registry.sessions.get(name)
    try:
        if session is None:
            await registry.create(name, True, {})
        elif session.runner is None or session.runner.done():
            await registry.start(name)
    except ZapvisorError as exc:
        _log.warning("default_session.not_started", session_id=name, error=exc.message)
