"""Sessions as the API shows them: the session object, its short status, the daemon's totals
and the listing (api/sessions.py and the replaced systems' routes in api/legacy.py answer
with these; their schemas are in api/schemas.py)."""

from __future__ import annotations

import datetime
import functools
import time
from typing import Any, NamedTuple

from aiohttp import web

from supervisor.api.keys import HOST, REGISTRY, SENDS, STARTED_AT
from supervisor.procs.process import WorkerProcess
from supervisor.sessions import options
from supervisor.sessions.session import Session
from supervisor.states import State
from supervisor.store import SessionRecord

__all__ = ["Facts", "daemon_stats", "facts", "listing", "queue_depths", "session_info", "session_object",
           "short_status", "uptime_s", "with_queue"]


@functools.lru_cache(maxsize=4096)
def _iso(ts: float) -> str:
    # A session's since and created_at change seldom, and are shown at every listing.
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds")


class Facts(NamedTuple):
    """Everything a session's object is made of that may change, but its uptime. The object is
    a function of these and of the session's constants (its id, profile, the config), so equal
    facts mean an unchanged object: the listing keeps each session's JSON until they change
    (api/listing.py)."""

    state: State
    detail: str
    since: float
    record: SessionRecord  # replaced, never changed in place (Session.update_record)
    qr_offered: bool
    wa_version: str | None
    sync_percent: float | None
    headless: bool | None
    worker_pid: int | None  # these four: of the live worker, None without one
    chrome_pid: int | None
    cdp_rtt_ms: Any
    sample: dict[str, Any]  # replaced at each sample, never changed in place


_NO_SAMPLE: dict[str, Any] = {}


def facts(session: Session, worker: WorkerProcess | None) -> Facts:
    """What ``session``'s object shows now, but its uptime (``worker``: its live worker)."""
    page = session.page
    if worker is None:  # a dead worker's figures are never shown as current
        pid = chrome = rtt = None
        sample = _NO_SAMPLE
    else:
        pid, chrome, rtt = worker.pid, worker.chrome_pid, worker.heartbeat.get("cdp_rtt_ms")
        sample = session.resources.last  # never measured here
    return Facts(session.state, session.detail, session.since, session.record,
                 session.offered_qr() is not None, page.wa_version, page.sync_percent,
                 session.headless, pid, chrome, rtt, sample)


def uptime_s(worker: WorkerProcess | None) -> float | None:
    """Seconds a session's live ``worker`` has run (None without one)."""
    return round(worker.uptime_s(), 1) if worker is not None else None


def session_object(session: Session, f: Facts) -> dict[str, Any]:
    """The session's object made of ``f``, without its uptime."""
    rec, state = f.record, str(f.state)
    return {
        "id": session.id,
        "state": state,
        "detail": f.detail,
        "desired": rec.desired,
        "since": _iso(f.since),
        "created_at": _iso(rec.created_at),
        "restarts": rec.restarts,
        "last_exit": rec.last_exit,
        "last_error": rec.last_error,
        "phone_number": rec.phone_number,
        "worker_pid": f.worker_pid,
        "chrome_pid": f.chrome_pid,
        "memory_bytes": f.sample.get("memory_bytes"),
        "processes": f.sample.get("processes"),
        "cpu_percent": f.sample.get("cpu_percent"),
        "cdp_rtt_ms": f.cdp_rtt_ms,
        "profile_dir": session.profile_dir,
        "wa_version": f.wa_version,
        "sync_percent": f.sync_percent,
        "metadata": rec.metadata,
        **options.shown(rec.options),
        "headless": session.ctx.config.chrome.headless if f.headless is None else f.headless,
        # The replaced systems' names for the id, state, QR and number.
        "sessionId": session.id, "status": state, "qrAvailable": f.qr_offered,
        "phoneNumber": rec.phone_number,
    }


def session_info(session: Session) -> dict[str, Any]:
    """Everything known about a session, as JSON."""
    worker = session.live_worker()
    return {**session_object(session, facts(session, worker)), "uptime_s": uptime_s(worker)}


def short_status(session: Session) -> dict[str, Any]:
    """The short status of a session, as JSON."""
    rec = session.record
    return {
        "id": session.id,
        "state": str(session.state),
        "qr_available": session.offered_qr() is not None,
        "phone_number": rec.phone_number,
        "since": _iso(session.since),
        "restarts": rec.restarts,
        # Why it is in its state (a STOPPED session: stopped by whom, or logged out), and how
        # its last worker ended: a logout's reason is in neither last_error nor the state.
        "detail": session.detail,
        "last_exit": rec.last_exit,
        "last_error": rec.last_error,
        "sessionId": session.id, "status": str(session.state),
        "qrAvailable": session.offered_qr() is not None, "phoneNumber": rec.phone_number,
    }


def daemon_stats(app: web.Application) -> dict[str, Any]:
    """The daemon's totals: sessions by state, memory, restarts, the host."""
    registry = app[REGISTRY]
    counts = dict.fromkeys(State, 0)
    memory = restarts = 0
    for session in registry.sessions.values():
        counts[session.state] += 1
        restarts += session.record.restarts
        if session.live_worker() is not None:
            memory += session.resources.last.get("memory_bytes") or 0
    breaker = registry.breaker
    now = time.monotonic()
    host, rss = app[HOST].latest(now)  # read at most once per window, not per request
    return {
        "sessions": len(registry.sessions),
        "by_state": {str(state): count for state, count in counts.items()},
        "restarts": restarts,
        "sessions_memory_bytes": memory,
        "supervisor_rss_bytes": rss,
        "uptime_s": round(now - app[STARTED_AT], 1),
        "breaker_open": breaker.hold_s(now) > 0,
        "breaker_trips": breaker.trips,
        "max_sessions": registry.config.sessions.max_sessions,
        "host": host,
        "host_starved": registry.host.status(),
        "process_tracking": registry.tracking.kind,
    }


def queue_depths(app: web.Application) -> dict[str, int]:
    """Each session's send queue depth (sessions with an empty queue left out)."""
    sends = app.get(SENDS)
    return {s: depth for s, (depth, _) in sends.store.depths().items()} if sends is not None else {}


def listing(app: web.Application) -> dict[str, Any]:
    """Every session with its live figures, and the totals, as dicts (a cluster merges them
    with its other nodes'; api/listing.py makes the same as JSON, faster)."""
    depths = queue_depths(app)
    sessions = [{**session_info(s), "queue_depth": depths.get(s.id, 0)}
                for s in app[REGISTRY].sessions.values()]
    return {"sessions": sessions, "stats": daemon_stats(app)}


def with_queue(app: web.Application, session: Session) -> dict[str, Any]:
    """The session object with its queue's depth."""
    depth = app[SENDS].store.depths().get(session.id, (0, 0.0))[0]
    return {**session_info(session), "queue_depth": depth}
