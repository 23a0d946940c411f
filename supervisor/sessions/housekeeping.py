"""Periodic care that keeps sessions healthy for months without a cron restart.

Every ``limits.check_interval_s``: read host pressure (admission), recycle a session older
than ``recycle_after_h`` (± jitter, so sessions never recycle together), delete received media
kept longer than ``[media] keep_days``, report a status line to systemd (the memory limit is checked on each resource sample: supervisor.sessions.sampling). Separately, ``WATCHDOG=1`` is sent only while these checks keep succeeding
on time, so a wedged event loop or database gets the daemon restarted by systemd.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections import Counter

from supervisor.layout import StateLayout
from supervisor.logs import get_logger
from supervisor.sessions.mediastore import prune
from supervisor.sessions.registry import Registry
from supervisor.sessions.session import Session
from supervisor.states import State
from supervisor.store import Store
from supervisor.systemd import Notifier

__all__ = ["Housekeeper", "sweep_disk"]

_log = get_logger()


class Housekeeper:
    """Owned by the daemon's TaskGroup: ``run()`` and, under systemd, ``run_watchdog()``."""

    def __init__(self, registry: Registry, store: Store, notifier: Notifier,
                 rng: random.Random | None = None) -> None:
        self._registry = registry
        self._store = store
        self._notifier = notifier
        self._rng = rng or random.Random()
        self._limits = registry.config.limits
        self._due: dict[str, tuple[float, float]] = {}  # id -> (ready_at, recycle due)
        self._last_status = ""
        self.last_ok = time.monotonic()

    def status_line(self) -> str:
        """Counts by state, for ``systemctl status``."""
        counts = Counter(str(s.state) for s in self._registry.sessions.values())
        parts = [f"{counts[str(state)]} {state}" for state in State if counts[str(state)]]
        pressure = self._registry.pressure
        suffix = f"; refusing starts: {pressure.reason}" if pressure.overloaded else ""
        return (", ".join(parts) or "no sessions") + suffix

    def check(self) -> None:
        """One round of checks (blocking reads are small: /proc, statvfs, one SELECT)."""
        self._store.ping()
        was = self._registry.pressure.reason
        now = self._registry.refresh_pressure().reason
        if now != was:
            _log.warning("host.pressure", reason=now or "cleared")
        for session in list(self._registry.sessions.values()):
            self._check_age(session)
        pruned = prune(self._registry.config.layout, self._registry.config.media.keep_days)
        if pruned:
            _log.info("media.pruned", files=pruned, keep_days=self._registry.config.media.keep_days)
        line = self.status_line()
        if line != self._last_status:
            self._notifier.status(line)
            self._last_status = line
        self.last_ok = time.monotonic()

    def _check_age(self, session: Session) -> None:
        hours = self._limits.recycle_after_h
        if not hours or not session.ready_at or session.state != State.WORKING:
            return
        ready_at, due = self._due.get(session.id, (0.0, 0.0))
        if ready_at != session.ready_at:
            jitter = self._limits.recycle_jitter
            due = session.ready_at + hours * 3600 * self._rng.uniform(1 - jitter, 1 + jitter)
            self._due[session.id] = (session.ready_at, due)
        if time.monotonic() >= due:
            session.request_recycle(f"age over {hours:g} h")

    async def run(self) -> None:
        """Check every interval until cancelled; a failing check is logged, never fatal."""
        while True:
            try:
                self.check()
            except Exception:
                _log.exception("housekeeping.check_failed")
            await asyncio.sleep(self._limits.check_interval_s)

    def healthy(self) -> bool:
        """True while the checks run on time (the loop is not wedged, the store answers)."""
        return time.monotonic() - self.last_ok < 3 * self._limits.check_interval_s

    async def run_watchdog(self) -> None:
        """Feed systemd's watchdog, but only while healthy."""
        interval = self._notifier.watchdog_interval_s
        while True:
            if self.healthy():
                self._notifier.watchdog()
            else:
                _log.error("watchdog.withheld", since_last_check_s=round(time.monotonic() - self.last_ok, 1))
            await asyncio.sleep(interval)


def sweep_disk(layout: StateLayout, running: set[str]) -> int:
    """Delete what Chrome abandons when killed: TMPDIR scratch and crash dumps of sessions that
    are not running. Returns how many entries were removed. Blocking: call at boot."""
    removed = 0
    for session_dir in layout.sessions.glob("*"):
        sid = session_dir.name
        if sid in running or not session_dir.is_dir():
            continue
        stale = [*layout.tmp_dir(sid).glob("*"), layout.profile_dir(sid) / "Crash Reports"]
        for path in stale:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            elif path.exists() or path.is_symlink():
                path.unlink(missing_ok=True)
                removed += 1
    return removed
