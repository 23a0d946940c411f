"""``[roles] env_file``: a dotenv file (a Laravel app's ``.env``) kept in step with the roles.

For each role R (upper-cased, ``-`` -> ``_``) the file gets ``WHATSAPP_<R>_SESSION`` (the role's
first session), ``WHATSAPP_<R>_PHONE`` (its number, empty until it logged in) and
``WHATSAPP_<R>_URL`` (its send URL, under ``[roles] base_url``); a role deleted while the daemon
runs gets its three keys emptied. Every other line of the file is kept (see ``dotenv``).

It is rewritten after a role change, and after what changes a role's values: a session deleted,
logged in (its number) or logged out. Writes are serialized (one at a time, each from the roles
as they are when it starts, so the last one always reflects the latest change), skipped when
nothing changed, and never fail a request: a failed write is logged and counted, and retried at
the next change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.events.bus import Event
from supervisor.logs import get_logger
from supervisor.sessions import dotenv
from supervisor.sessions.roles import Roles

__all__ = ["RoleEnvFile", "env_prefix", "send_path"]

_log = get_logger()
_TRIGGERS = frozenset({"role.updated", "session.deleted", "session.logout"})


def env_prefix(role: str) -> str:
    """``sales-2`` -> ``WHATSAPP_SALES_2``."""
    return "WHATSAPP_" + role.upper().replace("-", "_")


def send_path(session_id: str) -> str:
    """A session's send URL (the WhatsappSessionManager route), without scheme and host."""
    return f"/api/sessions/{session_id}/send-message"


class RoleEnvFile:
    """The dotenv file of ``[roles] env_file`` (``path`` None: there is none)."""

    def __init__(self, path: Path | None, base_url: str, roles: Roles,
                 on_write: Callable[[bool], None] | None = None) -> None:
        self.path = path
        self._base_url = base_url
        self._roles = roles
        self._on_write = on_write
        self._lock = asyncio.Lock()
        self._asked = 0  # changes counted so far (sync() calls and bus triggers)
        self._covered = 0  # calls whose changes the latest write (or skip) took into account
        self._written: dict[str, str] | None = None  # values of the last successful write
        self._known: set[str] = set()  # roles seen this run (to empty their keys once deleted)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0
        self.last_error: str | None = None

    async def values(self) -> dict[str, str]:
        """The keys this file should hold now."""
        roles = await self._roles.all()
        self._known.update(roles)
        firsts = await self._roles.book.members([sessions[0] for sessions in roles.values()])
        values: dict[str, str] = {}
        owner: dict[str, str] = {}
        for role in sorted(set(roles) | self._known):
            prefix = env_prefix(role)
            if prefix in owner:
                _log.warning("roles.env_file.name_clash", role=role, other=owner[prefix], keys=prefix)
                continue
            owner[prefix] = role
            sessions = roles.get(role, [])
            first = firsts.get(sessions[0]) if sessions else None
            values[f"{prefix}_SESSION"] = sessions[0] if sessions else ""
            values[f"{prefix}_PHONE"] = (first.phone_number or "") if first else ""
            values[f"{prefix}_URL"] = self._base_url + send_path(sessions[0]) if sessions else ""
        return values

    async def sync(self) -> bool | None:
        """Bring the file in step with the roles as they are now (None: no env_file). Waits for
        a write in progress first; never raises."""
        if self.path is None:
            return None
        self._asked += 1
        return await self._catch_up(self.path, self._asked)

    async def _catch_up(self, path: Path, asked: int) -> bool:
        async with self._lock:
            if self._covered >= asked:  # a write that started after the change covered it
                return self.last_error is None
            self._covered = self._asked
            values = await self.values()
            if values == self._written:  # the file holds them already (a failure since is moot)
                self.last_error = None
                return True
            try:
                changed = await asyncio.to_thread(self._write, path, values)
            except Exception as exc:  # an OSError mostly; whatever it is, the role change stands
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                _log.error("roles.env_file.write_failed", path=str(path), error=self.last_error)
                self._report(False)
                return False
            self._written, self.last_error = values, None
            if changed:
                _log.info("roles.env_file.written", path=str(path), keys=len(values))
                self._report(True)
            return True

    @staticmethod
    def _write(path: Path, values: dict[str, str]) -> bool:
        old = dotenv.read_text(path)
        new = dotenv.render(old, values)
        if new == old:
            return False
        dotenv.write_atomic(path, new)
        return True

    def _report(self, ok: bool) -> None:
        if self._on_write is not None:
            self._on_write(ok)

    def on_event(self, event: Event) -> None:
        """Bus listener: rewrite after what may change a role's values. The change is counted
        now, so that a sync() the request itself awaits covers it and none is written twice."""
        name = event["event"]
        if self.path is None:
            return
        if name in _TRIGGERS or (name == "session.status" and event["payload"].get("state") == "WORKING"):
            self._asked += 1
            task = asyncio.get_running_loop().create_task(self._catch_up(self.path, self._asked),
                                                          name="roles.env_file")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def status(self) -> dict[str, Any] | None:
        """The file, and whether its last write succeeded (None: no env_file)."""
        if self.path is None:
            return None
        return {"path": str(self.path), "ok": self.last_error is None,
                "failures": self.failures, "lastError": self.last_error}

    async def close(self) -> None:
        """Wait for the rewrites under way."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
