"""Session routes of the control API: create, list, get, status, start, stop, restart, delete,
and the daemon's totals."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
from aiohttp import web

from supervisor.api.httputil import check_fields, json_object
from supervisor.api.keys import HOST_CPU, HUB, REGISTRY, STARTED_AT
from supervisor.events.webhooks import parse_hooks
from supervisor.sessions.pressure import HostCpu
from supervisor.sessions.session import Session
from supervisor.states import State

__all__ = ["routes", "session_info", "stats"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds")


def session_info(session: Session) -> dict[str, Any]:
    """Everything known about a session, as JSON."""
    worker = session.live_worker()
    beat = worker.heartbeat if worker is not None else {}
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
        "memory_bytes": beat.get("pss_bytes"),
        "processes": beat.get("processes"),
        "cdp_rtt_ms": beat.get("cdp_rtt_ms"),
        "profile_dir": session.profile_dir,
        **session.page.as_dict(),
        "metadata": rec.metadata,
    }


def _status(session: Session) -> dict[str, Any]:
    rec = session.record
    return {
        "id": session.id,
        "state": str(session.state),
        "qr_available": session.offered_qr() is not None,
        "phone_number": rec.phone_number,
        "since": _iso(session.since),
        "restarts": rec.restarts,
        "last_error": rec.last_error,
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


def _stats(app: web.Application) -> dict[str, Any]:
    registry = app[REGISTRY]
    by_state = {str(state): 0 for state in State}
    memory = 0
    for session in registry.sessions.values():
        by_state[str(session.state)] += 1
        memory += session_info(session)["memory_bytes"] or 0
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
    }


routes = web.RouteTableDef()


@routes.get("/api/stats")
async def stats(request: web.Request) -> web.Response:
    """Totals for the whole daemon, and per session: memory, CPU, messages, restarts."""
    return web.json_response({**_stats(request.app), **request.app[HUB].metrics.stats()})


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    """Every session with its live figures."""
    registry = request.app[REGISTRY]
    sessions = [session_info(s) for s in registry.sessions.values()]
    return web.json_response({"sessions": sessions, "stats": _stats(request.app)})


@routes.post("/api/sessions")
async def create_session(request: web.Request) -> web.Response:
    """Create (and by default start) a session."""
    body = await json_object(request)
    check_fields(body, {"id": str, "start": bool, "metadata": dict, "webhooks": list})
    hooks = parse_hooks(body.get("webhooks", []))
    webhooks = request.app[HUB].webhooks
    session = await request.app[REGISTRY].create(
        body.get("id"), body.get("start", True), body.get("metadata", {}),
        prepare=lambda session_id: webhooks.set_session_hooks(session_id, hooks) if hooks else None,
    )
    info = session_info(session)
    base = f"/api/sessions/{session.id}"
    info.update(status_url=f"{base}/status", qr_url=f"{base}/qr")
    return web.json_response(info, status=201)


@routes.get("/api/sessions/{id}")
async def get_session(request: web.Request) -> web.Response:
    """Full information on one session."""
    return web.json_response(session_info(request.app[REGISTRY].get(request.match_info["id"])))


@routes.get("/api/sessions/{id}/status")
async def session_status(request: web.Request) -> web.Response:
    """The short status of one session."""
    return web.json_response(_status(request.app[REGISTRY].get(request.match_info["id"])))


def _lifecycle(name: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        registry = request.app[REGISTRY]
        operation: Callable[[str], Awaitable[Session]] = getattr(registry, name)
        session = await operation(request.match_info["id"])
        return web.json_response(session_info(session))

    handler.__doc__ = f"POST /api/sessions/{{id}}/{name}"
    return handler


for _name in ("start", "stop", "restart"):
    routes.post(f"/api/sessions/{{id}}/{_name}")(_lifecycle(_name))


@routes.delete("/api/sessions/{id}")
async def delete_session(request: web.Request) -> web.Response:
    """Stop a session and delete its profile and record."""
    session_id = request.match_info["id"]
    await request.app[REGISTRY].delete(session_id)
    return web.json_response({"id": session_id, "deleted": True})


