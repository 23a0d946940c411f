"""Sessions as the API shows them: the session object, its short status, the daemon's totals
and the listing (api/sessions.py and the replaced systems' routes in api/legacy.py answer
with these; their schemas are in api/schemas.py)."""

from __future__ import annotations

import datetime
import os
import time
from typing import Any

import psutil
from aiohttp import web

from supervisor.api.keys import HOST_CPU, REGISTRY, SENDS, STARTED_AT
from supervisor.sessions import options
from supervisor.sessions.pressure import HostCpu
from supervisor.sessions.session import Session
from supervisor.states import State

__all__ = ["daemon_stats", "listing", "session_info", "short_status", "with_queue"]


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds")


def _legacy(session: Session) -> dict[str, Any]:
    """The replaced systems' names for the id, state, QR and number."""
    return {"sessionId": session.id, "status": str(session.state),
            "qrAvailable": session.offered_qr() is not None,
            "phoneNumber": session.record.phone_number}


def session_info(session: Session) -> dict[str, Any]:
    """Everything known about a session, as JSON."""
    worker = session.live_worker()
    beat = worker.heartbeat if worker is not None else {}
    sample = session.resources.last if worker is not None else {}  # never measured here
    rec = session.record
    return {
        "id": session.id,
        "state": str(session.state),
        "detail": session.detail,
        "desired": rec.desired,
        "since": _iso(session.since),
        "created_at": _iso(rec.created_at),
        "restarts": rec.restarts,
        "last_exit": rec.last_exit,
        "last_error": rec.last_error,
        "phone_number": rec.phone_number,
        "worker_pid": worker.pid if worker else None,
        "chrome_pid": worker.chrome_pid if worker else None,
        "uptime_s": round(worker.uptime_s(), 1) if worker else None,
        "memory_bytes": sample.get("memory_bytes"),
        "processes": sample.get("processes"),
        "cpu_percent": sample.get("cpu_percent"),
        "cdp_rtt_ms": beat.get("cdp_rtt_ms"),
        "profile_dir": session.profile_dir,
        **session.page.as_dict(),
        "metadata": rec.metadata,
        **options.shown(rec.options),
        "headless": (session.ctx.config.chrome.headless if session.headless is None
                     else session.headless),
        **_legacy(session),
    }


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
        **_legacy(session),
    }


def _host(cpu: HostCpu) -> dict[str, Any]:
    """The host's memory and CPU."""
    memory = psutil.virtual_memory()
    return {
        "memory_total_bytes": memory.total,
        "memory_available_bytes": memory.available,
        "memory_percent": memory.percent,
        "cpu_percent": cpu.percent(time.monotonic()),
        "cpu_count": psutil.cpu_count() or 1,
        "load_1m": round(os.getloadavg()[0], 2),
    }


def daemon_stats(app: web.Application) -> dict[str, Any]:
    """The daemon's totals: sessions by state, memory, restarts, the host."""
    registry = app[REGISTRY]
    by_state = {str(state): 0 for state in State}
    memory = 0
    for session in registry.sessions.values():
        by_state[str(session.state)] += 1
        if session.live_worker() is not None:
            memory += session.resources.last.get("memory_bytes") or 0
    breaker = registry.breaker
    return {
        "sessions": len(registry.sessions),
        "by_state": by_state,
        "restarts": sum(s.record.restarts for s in registry.sessions.values()),
        "sessions_memory_bytes": memory,
        "supervisor_rss_bytes": psutil.Process(os.getpid()).memory_info().rss,
        "uptime_s": round(time.monotonic() - app[STARTED_AT], 1),
        "breaker_open": breaker.hold_s(time.monotonic()) > 0,
        "breaker_trips": breaker.trips,
        "max_sessions": registry.config.sessions.max_sessions,
        "host": _host(app[HOST_CPU]),
        "host_starved": registry.host.status(),
        "process_tracking": registry.tracking.kind,
    }


def listing(app: web.Application) -> dict[str, Any]:
    """Every session with its live figures, and the totals."""
    sends = app.get(SENDS)
    depths = sends.store.depths() if sends is not None else {}
    sessions = [{**session_info(s), "queue_depth": depths.get(s.id, (0, 0.0))[0]}
                for s in app[REGISTRY].sessions.values()]
    return {"sessions": sessions, "stats": daemon_stats(app)}


def with_queue(app: web.Application, session: Session) -> dict[str, Any]:
    """The session object with its queue's depth."""
    depth = app[SENDS].store.depths().get(session.id, (0, 0.0))[0]
    return {**session_info(session), "queue_depth": depth}
