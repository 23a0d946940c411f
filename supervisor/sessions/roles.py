"""Roles: named groups of sessions ("sales", "coordination"), kept in a role book, and the
router that picks the session a send goes through (a named one, a role's, or the default).

A role lists sessions in order; sending "by role" goes round-robin over those that are WORKING
right now, so traffic spreads over the numbers of a role and skips one that is logging in or
restarting. Every change publishes ``role.updated``. In a cluster the roles, the round-robin
cursor and the states it reads are the cluster's (rolebook.py), so a role's sessions may run on
any nodes and every node routes alike.
"""

from __future__ import annotations

from typing import Any

from supervisor.errors import Conflict, InvalidRequest, NotFound, ZapvisorError
from supervisor.events.bus import EventBus
from supervisor.logs import get_logger
from supervisor.sessions.registry import Registry
from supervisor.sessions.rolebook import RoleBook
from supervisor.settings import SESSION_ID_RE
from supervisor.states import State

__all__ = ["Roles", "check_role", "start_default_session"]

_log = get_logger()


def check_role(value: object) -> str:
    """A valid role name, or InvalidRequest."""
    if not isinstance(value, str) or not SESSION_ID_RE.fullmatch(value):
        raise InvalidRequest(f"invalid role name {value!r}: use 1-64 letters, digits, '_' or '-', "
                             "starting with a letter or digit")
    return value


class Roles:
    """Role -> sessions, kept in a :class:`RoleBook` (this host's database, or the cluster's
    Redis), and the router that picks the session a send goes through."""

    def __init__(self, book: RoleBook, bus: EventBus, registry: Registry) -> None:
        self.book = book
        self._bus = bus
        self._registry = registry

    async def all(self) -> dict[str, list[str]]:
        """Every role with its sessions, in order."""
        return await self.book.all()

    async def get(self, role: str) -> list[str]:
        """The sessions of ``role``; NotFound if it has none."""
        sessions = (await self.all()).get(check_role(role))
        if not sessions:
            raise NotFound(f"role {role!r} does not exist (PUT /api/roles/{role} to create it)")
        return sessions

    async def describe(self, role: str, sessions: list[str]) -> dict[str, Any]:
        """A role as JSON, with which of its sessions can send now."""
        members = await self.book.members(sessions)
        return {"role": role, "sessions": sessions,
                "working": [s for s in sessions if members[s].state == State.WORKING]}

    async def set(self, role: str, sessions: object) -> tuple[list[str], list[str]]:
        """Replace the sessions of ``role`` (an empty list deletes it); publishes role.updated.
        Returns the sessions, and those it had before."""
        check_role(role)
        if not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions):
            raise InvalidRequest("sessions must be a list of session ids")
        if len(set(sessions)) != len(sessions):
            raise InvalidRequest("sessions lists a session twice")
        existing = await self.book.existing(sessions)
        unknown = [s for s in sessions if s not in existing]
        if unknown:
            raise InvalidRequest(f"no such session(s): {', '.join(map(repr, unknown))}")
        previous = await self.book.save(role, list(sessions))
        _log.info("role.updated", role=role, sessions=sessions)
        self._bus.publish("role.updated", None, {"role": role, "sessions": sessions, "previous": previous})
        return list(sessions), previous

    async def pick(self, role: str) -> str:
        """The id of the next WORKING session of ``role``, round-robin; Conflict if none is."""
        sessions = await self.get(role)
        picked = await self.book.pick(role, sessions)
        if picked is not None:
            return picked
        members = await self.book.members(sessions)
        states = ", ".join(f"{s} {members[s].state or 'deleted'}" for s in sessions)
        raise Conflict(f"no session of role {role!r} is WORKING ({states})")

    async def route(self, session_id: object, role: object) -> str:
        """The id of the session a send goes through: the named one, else a role's, else the
        default (NotFound if the default does not exist)."""
        if session_id is not None and role is not None:
            raise InvalidRequest("give either a session or a role, not both")
        if role is not None:
            return await self.pick(check_role(role))
        if session_id is not None:
            if not isinstance(session_id, str):
                raise InvalidRequest(f"sessionId must be a string, got {session_id!r}")
            return session_id
        default = self._registry.config.sessions.default_session
        if not await self.book.existing([default]):
            raise NotFound(f"no session given and the default session {default!r} does not exist "
                           "(create it, or set [sessions] start_default_session)")
        return default


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
