"""The registry: every session by id, their lifecycle operations, limits and the start queue.

Each session that should run has one runner task (``Session.run``) owned by the daemon's
TaskGroup; stopping a session cancels its runner, which runs the close order on its way out.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

from supervisor.config import Config
from supervisor.errors import (
    Conflict,
    NotFound,
    Overloaded,
    TooManySessions,
    Unavailable,
)
from supervisor.events.bus import EventBus
from supervisor.logs import get_logger
from supervisor.procs.cgroups import CgroupTree
from supervisor.procs.process import WorkerProcess
from supervisor.procs.reaper import marker_env
from supervisor.procs.spawner import ExecSpawner, Spawner, ZygoteSpawner
from supervisor.procs.tracking import Tracking
from supervisor.sessions.backoff import CrashBreaker
from supervisor.sessions.context import SessionContext
from supervisor.sessions.fencing import Fencing
from supervisor.sessions.ids import SESSION_ID_RE, validate_session_id
from supervisor.sessions.leftovers import end_leftovers
from supervisor.sessions.liveness import HostWatch
from supervisor.sessions.logout import cleanup_after_logout
from supervisor.sessions.options import shown
from supervisor.sessions.pressure import Pressure, sample
from supervisor.sessions.profiles import remove_tree
from supervisor.sessions.session import Session
from supervisor.states import RUNNING_STATES, State, exists_message
from supervisor.store import Store

__all__ = ["Registry", "validate_session_id", "SESSION_ID_RE"]

_log = get_logger()


class Registry:
    """All sessions of this daemon."""

    def __init__(self, config: Config, store: Store, bus: EventBus, tg: asyncio.TaskGroup,
                 cgroups: CgroupTree | None = None) -> None:
        self.config = config
        self.bus = bus
        self._store = store
        self._tg = tg
        self._closing = False
        self.spawner: Spawner = (
            ZygoteSpawner(marker_env(config.state_dir, ""))
            if config.sessions.worker_spawn == "zygote"
            else ExecSpawner()
        )
        limits = config.limits
        self.tracking = Tracking(cgroups, self.spawner.reaper_pid, self._worker_pids,
                                 limits.cgroup_memory_max_mb, limits.cgroup_memory_high_mb)
        self.host = HostWatch(limits, config.chrome, config.sessions, bus, self._workers)
        self._ctx = SessionContext(
            config=config,
            store=store,
            bus=bus,
            start_slots=asyncio.Semaphore(config.sessions.start_slots),
            breaker=CrashBreaker(limits),
            spawner=self.spawner,
            host=self.host,
            tracking=self.tracking,
            end_leftovers=partial(end_leftovers, bus, config.chrome.close_timeout_s),
            logged_out=self._logged_out,
        )
        self.sessions: dict[str, Session] = {
            record.id: Session(record, self._ctx) for record in store.list_sessions()
        }
        self.pressure: Pressure = sample(config.limits, config.state_dir)

    def refresh_pressure(self) -> Pressure:
        """Read the host again (called by the housekeeper on its interval)."""
        self.pressure = sample(self.config.limits, self.config.state_dir)
        return self.pressure

    def admit(self) -> None:
        """Refuse a new Chrome while the host is short of memory or disk."""
        if self.pressure.overloaded:
            raise Overloaded(f"not starting a session now: {self.pressure.reason}",
                             retry_after_s=max(1, round(self.config.limits.check_interval_s)))

    @property
    def breaker(self) -> CrashBreaker:
        """The global crash breaker."""
        return self._ctx.breaker

    @property
    def fencing(self) -> Fencing:
        """The workers' leases: set by a cluster node only (supervisor.sessions.fencing)."""
        return self._ctx.fencing

    def get(self, session_id: str) -> Session:
        """The session, or NotFound."""
        validate_session_id(session_id)
        try:
            return self.sessions[session_id]
        except KeyError:
            raise NotFound(f"session {session_id!r} does not exist") from None

    @property
    def closing(self) -> bool:
        """True once shutdown has begun."""
        return self._closing

    def _check_open(self) -> None:
        if self._closing:
            raise Unavailable("the daemon is shutting down")

    def restore(self) -> int:
        """Start every session whose desired state is running (and that a request has not
        started already, since the API listens first); returns how many."""
        wanted = [s for s in self.sessions.values()
                  if s.record.desired == "running" and not s.running()]
        for session in wanted:
            self._launch(session)
        return len(wanted)

    async def create(self, session_id: str | None, start: bool, metadata: dict[str, Any],
                     prepare: Callable[[str], None] | None = None,
                     headless: bool | None = None, options: dict[str, Any] | None = None) -> Session:
        """Add a session (and start it unless ``start`` is false). ``prepare(id)`` runs once
        the record exists, before any event of the session (its webhooks are set there).
        ``headless`` overrides ``[chrome] headless`` for this session, until the daemon stops;
        ``options`` are its stored options (sessions.options: parsed already)."""
        self._check_open()
        if session_id is None:
            session_id = f"session-{secrets.token_hex(4)}"
        validate_session_id(session_id)
        if session_id in self.sessions:
            raise Conflict(exists_message(session_id, self.sessions[session_id].state))
        limit = self.config.sessions.max_sessions
        if len(self.sessions) >= limit:
            raise TooManySessions(f"max_sessions ({limit}) reached; delete a session first")
        if start:
            self.admit()
        await self._ctx.fencing.register(session_id, {"desired": "running" if start else "stopped",
                                                      "metadata": metadata, "options": options or {}})
        record = self._store.insert_session(session_id, "running" if start else "stopped", metadata,
                                            options)
        session = Session(record, self._ctx)
        session.headless = headless
        self.sessions[session_id] = session
        _log.info("session.created", session_id=session_id, start=start, headless=headless,
                  **shown(record.options))
        if prepare is not None:
            prepare(session_id)
        self.bus.publish("session.created", session_id, {"start": start})
        if start:
            self._launch(session)
        return session

    async def start(self, session_id: str) -> Session:
        """Start a stopped or failed session."""
        self._check_open()
        session = self.get(session_id)
        async with session.lock:
            if session.running():  # before anything changes, so a refusal changes nothing
                raise Conflict(f"session {session_id!r} is already {session.state}")
            self.admit()
            session.update_record(desired="running")
            session.policy.reset()
            self._launch(session)
        return session

    async def stop(self, session_id: str, reason: str = "stop requested", keep_desired: bool = False) -> Session:
        """Stop a session and remember that it should stay stopped (``keep_desired``: that it
        should run, e.g. a cluster node that lost its lease)."""
        session = self.get(session_id)
        async with session.lock:
            if not keep_desired:
                session.update_record(desired="stopped")
            await self._halt(session, reason)
        return session

    async def restart(self, session_id: str) -> Session:
        """Stop then start again, on the same profile."""
        self._check_open()
        session = self.get(session_id)
        async with session.lock:
            await self.relaunch(session, "restart requested")
        return session

    async def relaunch(self, session: Session, reason: str) -> None:
        """Stop ``session`` and start it again on the same profile; the caller holds its lock."""
        self.admit()
        await self._halt(session)
        session.update_record(desired="running")
        session.policy.reset()
        self.bus.publish("session.restart", session.id, {"kind": "requested", "reason": reason})
        self._launch(session)

    async def delete(self, session_id: str) -> None:
        """Stop a session, then delete its profile and its record."""
        session = self.get(session_id)
        async with session.lock:
            await self._halt(session)
            await remove_tree(self.config.layout.session_dir(session_id))
            self._store.delete_session(session_id)
            del self.sessions[session_id]
        _log.info("session.deleted", session_id=session_id)
        await self._ctx.fencing.deleted(session_id)
        self.bus.publish("session.deleted", session_id, {})

    def _logged_out(self, session_id: str, reason: str) -> bool:
        """With auto_cleanup_on_logout, stop it and delete its profile (sessions.logout)."""
        if not self.config.sessions.auto_cleanup_on_logout or self._closing:
            return False
        self._tg.create_task(cleanup_after_logout(self.stop, self.sessions, self.config.sessions.cleanup_delay_s,
                                                  session_id, reason), name=f"cleanup:{session_id}")
        return True

    async def adopt(self, session_id: str, metadata: dict[str, Any], options: dict[str, Any], start: bool) -> Session:
        """Keep here (and ``start``) a session another node had (takeover): its record made or refreshed."""
        self._check_open()
        session = self.sessions.get(session_id)
        if session is None:
            return await self.create(session_id, start, metadata, options=options)
        async with session.lock:
            session.update_record(desired="running" if start else "stopped", metadata=metadata, options=options)
            if start and not session.running():
                self._launch(session)
        return session

    async def forget(self, session_id: str, reason: str) -> None:
        """Stop a session and drop its record (not its profile): another node owns it now."""
        session = self.get(session_id)
        async with session.lock:
            await self._halt(session, reason)
            self._store.delete_session(session_id)
            self.sessions.pop(session_id, None)
        self._ctx.fencing.held.discard(session_id)
        _log.info("session.forgotten", session_id=session_id, reason=reason)

    def _launch(self, session: Session) -> None:
        # One runner per session, ever: a second one would own a second worker and Chrome.
        if session.running():
            raise Conflict(f"session {session.id!r} is already {session.state}")
        session.ending = ""
        session.transition(State.STARTING, "queued")
        session.runner = self._tg.create_task(session.run(), name=f"session:{session.id}")

    async def _halt(self, session: Session, reason: str = "stop requested") -> None:
        """End a session's runner (the close order runs inside it) and mark it STOPPED, with
        ``reason`` on both steps."""
        runner = session.runner
        if session.state == State.STOPPED and (runner is None or runner.done()):
            return
        session.transition(State.STOPPING, reason)
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.wait([runner])
        session.runner = None
        session.worker = None
        session.transition(State.STOPPED, "stopped" if reason == "stop requested" else reason)

    async def shutdown(self) -> None:
        """Stop every session in parallel, keeping their desired states for the next start."""
        self._closing = True
        await asyncio.gather(*(self._halt(s) for s in self.sessions.values() if s.state != State.STOPPED))

    async def close(self) -> None:
        """After shutdown: end the zygote, remove our cgroup if we made it."""
        await self.spawner.close()
        if self.tracking.cgroups is not None:
            await asyncio.to_thread(self.tracking.cgroups.close)

    def kill_all(self) -> None:
        """The forced path: SIGKILL every worker now (their Chrome follow) and cut short
        every runner's close order."""
        for session in self.sessions.values():
            if session.worker is not None:
                session.worker.kill()
            if session.runner is not None:
                session.runner.cancel()

    def _workers(self) -> list[WorkerProcess]:
        return [s.worker for s in self.sessions.values() if s.worker is not None]

    def _worker_pids(self) -> set[int]:
        return {w.pid for w in self._workers() if w.pid is not None and w.returncode is None}

    def running_count(self) -> int:
        """Sessions with a live runner."""
        return sum(1 for s in self.sessions.values() if s.state in RUNNING_STATES)

