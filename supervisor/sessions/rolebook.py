"""Where roles are kept and how a role's next sender is picked: the book behind
:class:`~supervisor.sessions.roles.Roles`.

One host keeps its roles in its database (:class:`LocalRoleBook`) and reads its sessions' states
from the registry; a cluster keeps them in Redis (``cluster/rolebook.py``), where every node reads
the same roles, the same round-robin cursor and every session's state as its owner last wrote
it. Both answer the same five questions, so the API and the send router never tell them apart.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from supervisor.sessions.registry import Registry
from supervisor.states import State
from supervisor.store import Store

__all__ = ["LocalRoleBook", "Member", "RoleBook"]


class Member(NamedTuple):
    """What a role shows of one of its sessions."""

    state: str | None  # None: the session does not exist (any more)
    phone_number: str | None


class RoleBook(Protocol):
    """Roles and their sessions, wherever they are kept."""

    async def all(self) -> dict[str, list[str]]:
        """Every role with its sessions, in order."""

    async def save(self, role: str, sessions: list[str]) -> list[str]:
        """Replace the sessions of ``role`` ([] deletes it); the sessions it had before."""

    async def existing(self, session_ids: list[str]) -> set[str]:
        """Which of ``session_ids`` exist."""

    async def members(self, session_ids: list[str]) -> dict[str, Member]:
        """The state and number of each of ``session_ids``."""

    async def pick(self, role: str, sessions: list[str]) -> str | None:
        """The next WORKING one of ``role``'s ``sessions``, round-robin (and the cursor moved
        past it); None if none is WORKING."""


class LocalRoleBook:
    """The roles of one host: the ``roles`` table, the registry's states, a cursor per role."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._cursor: dict[str, int] = {}  # role -> index of the next session to try

    async def all(self) -> dict[str, list[str]]:
        return self.read()

    def read(self) -> dict[str, list[str]]:
        """:meth:`all`, without awaiting (a cluster node hands these to Redis when it joins)."""
        roles: dict[str, list[str]] = {}
        rows = self._store.connection.execute(
            "SELECT role, session_id FROM roles ORDER BY role, position").fetchall()
        for role, session_id in rows:
            roles.setdefault(role, []).append(session_id)
        return roles

    async def save(self, role: str, sessions: list[str]) -> list[str]:
        previous = self.read().get(role, [])
        self.write(role, sessions)
        self._cursor.pop(role, None)
        return previous

    def write(self, role: str, sessions: list[str]) -> None:
        """Store ``role``'s sessions in the database ([] deletes the role)."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM roles WHERE role = ?", (role,))
            db.executemany("INSERT INTO roles (role, position, session_id) VALUES (?, ?, ?)",
                           [(role, i, s) for i, s in enumerate(sessions)])

    async def existing(self, session_ids: list[str]) -> set[str]:
        return {s for s in session_ids if s in self._registry.sessions}

    async def members(self, session_ids: list[str]) -> dict[str, Member]:
        known = self._registry.sessions
        return {s: Member(str(known[s].state), known[s].record.phone_number) if s in known
                else Member(None, None) for s in session_ids}

    async def pick(self, role: str, sessions: list[str]) -> str | None:
        start = self._cursor.get(role, 0)
        for step in range(len(sessions)):
            index = (start + step) % len(sessions)
            session = self._registry.sessions.get(sessions[index])
            if session is not None and session.state == State.WORKING:
                self._cursor[role] = index + 1
                return session.id
        return None
