"""Session routes of the control API: create, list, get, status, start, stop, restart, delete,
and the daemon's totals.

Every session object also carries the names the replaced systems used (``sessionId``,
``status``, ``qrAvailable``, ``phoneNumber``), so their clients read it unchanged; create takes
``sessionId`` for ``id`` (see api/legacy.py for their routes).
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
from aiohttp import web

from supervisor.api.httputil import check_fields, json_object
from supervisor.api.keys import HOST_CPU, HUB, REGISTRY, SENDS, STARTED_AT
from supervisor.errors import InvalidRequest
from supervisor.jsonlimits import metadata_problem
from supervisor.sessions import options, updates
from supervisor.sessions.pressure import HostCpu
from supervisor.sessions.session import Session
from supervisor.states import State

__all__ = ["create", "listing", "routes", "session_info", "short_status", "stats"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def _stats(app: web.Application) -> dict[str, Any]:
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


routes = web.RouteTableDef()


@routes.get("/api/stats")
async def stats(request: web.Request) -> web.Response:
    """Totals for the whole daemon, and per session: memory, CPU, messages, restarts."""
    return web.json_response({**_stats(request.app), **request.app[HUB].metrics.stats()})


def listing(app: web.Application) -> dict[str, Any]:
    """Every session with its live figures, and the totals."""
    sends = app.get(SENDS)
    depths = sends.store.depths() if sends is not None else {}
    sessions = [{**session_info(s), "queue_depth": depths.get(s.id, (0, 0.0))[0]}
                for s in app[REGISTRY].sessions.values()]
    return {"sessions": sessions, "stats": _stats(app)}


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    """Every session with its live figures."""
    return web.json_response(listing(request.app))


def _new_id(body: dict[str, Any]) -> str | None:
    """``id``, or the replaced systems' ``sessionId``: both only if they agree."""
    if "id" in body and "sessionId" in body and body["id"] != body["sessionId"]:
        raise InvalidRequest(f"id {body['id']!r} and sessionId {body['sessionId']!r} name two "
                             "different sessions: give one of them")
    return body.get("id", body.get("sessionId"))


def _check_metadata(metadata: dict[str, Any]) -> None:
    problem = metadata_problem(metadata)
    if problem:
        raise InvalidRequest(f"metadata {problem}")


def _check_display(headless: bool | None) -> None:
    if headless is False and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise InvalidRequest(
            "headless: false opens a Chrome window, and the daemon has no display (neither "
            "DISPLAY nor WAYLAND_DISPLAY is set in its environment): run it in a desktop "
            "session, or leave headless out")


async def create(request: web.Request) -> dict[str, Any]:
    """Create (and by default start) a session from the request's body; the answer's body."""
    body = await json_object(request)
    check_fields(body, {"id": str, "sessionId": str, "start": bool, "metadata": dict,
                        "webhooks": list, "headless": bool, **options.fields()})
    _check_metadata(body.get("metadata", {}))
    chosen = options.merged({}, options.parse_changes(body))
    options.check(chosen, request.app[REGISTRY].config)
    webhooks = request.app[HUB].webhooks
    hooks = webhooks.parse(body.get("webhooks", []))
    _check_display(body.get("headless"))
    await webhooks.check_receivers(hooks)
    session = await request.app[REGISTRY].create(
        _new_id(body), body.get("start", True), body.get("metadata", {}),
        prepare=lambda session_id: webhooks.set_session_hooks(session_id, hooks) if hooks else None,
        headless=body.get("headless"), options=chosen,
    )
    info = session_info(session)
    base = f"/api/sessions/{session.id}"
    info.update(status_url=f"{base}/status", qr_url=f"{base}/qr",
                statusUrl=f"{base}/status", qrUrl=f"{base}/qr")
    return info


@routes.post("/api/sessions")
async def create_session(request: web.Request) -> web.Response:
    """Create (and by default start) a session."""
    return web.json_response(await create(request), status=201)


@routes.get("/api/sessions/{id}")
async def get_session(request: web.Request) -> web.Response:
    """Full information on one session."""
    return web.json_response(_with_queue(request.app, request.app[REGISTRY].get(request.match_info["id"])))


def _with_queue(app: web.Application, session: Session) -> dict[str, Any]:
    depth = app[SENDS].store.depths().get(session.id, (0, 0.0))[0]
    return {**session_info(session), "queue_depth": depth}


@routes.patch("/api/sessions/{id}")
async def update_session(request: web.Request) -> web.Response:
    """Change a session: ``metadata`` (replaced) and its options (``proxy``: a URL, or null or
    "" to remove it; ``sending``: [sending] keys, merged). A running session restarts on its
    profile when its proxy changes."""
    body = await json_object(request)
    check_fields(body, {"metadata": dict, **options.fields()})
    if not body:
        raise InvalidRequest(f"nothing to change: give {', '.join(['metadata', *options.OPTIONS])}")
    if "metadata" in body:
        _check_metadata(body["metadata"])
    session = await updates.update_session(request.app[REGISTRY], request.match_info["id"],
                                           body.get("metadata"), options.parse_changes(body))
    return web.json_response(_with_queue(request.app, session))


@routes.get("/api/sessions/{id}/status")
async def session_status(request: web.Request) -> web.Response:
    """The short status of one session."""
    return web.json_response(short_status(request.app[REGISTRY].get(request.match_info["id"])))


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


