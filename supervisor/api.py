"""The HTTP control API (aiohttp). Handlers validate input, call the registry, return JSON.

Errors are JSON ``{"error": {"type", "message"}}`` with the status of their class in
``supervisor.errors``; a traceback never reaches a client.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
from aiohttp import web

from supervisor.auth import key_matches
from supervisor.errors import InvalidRequest, NotFound, PayloadTooLarge, ZapvisorError
from supervisor.logs import get_logger
from supervisor.registry import Registry
from supervisor.session import Session
from supervisor.states import RUNNING_STATES, State

__all__ = ["build_app", "REGISTRY", "API_KEY", "STARTED_AT", "session_info"]

REGISTRY = web.AppKey("registry", Registry)
API_KEY = web.AppKey("api_key", str)
STARTED_AT = web.AppKey("started_at", float)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PUBLIC = frozenset({"/health"})
_log = get_logger()


def _error_response(error: ZapvisorError) -> web.Response:
    return web.json_response(error.to_dict(), status=error.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to one JSON error with the right status."""
    try:
        return await handler(request)
    except ZapvisorError as exc:
        return _error_response(exc)
    except web.HTTPRequestEntityTooLarge as exc:
        return _error_response(PayloadTooLarge(f"request body too large: {exc.text}"))
    except web.HTTPNotFound:
        return _error_response(NotFound(f"no route {request.method} {request.path}"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        body = {"error": {"type": exc.reason.replace(" ", ""), "message": exc.text or exc.reason}}
        return web.json_response(body, status=exc.status, headers=_allow_header(exc))
    except Exception:
        _log.exception("api.unhandled", method=request.method, path=request.path)
        body = {"error": {"type": "InternalError", "message": "internal error (see the daemon log)"}}
        return web.json_response(body, status=500)


def _allow_header(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route but /health needs ``X-Api-Key`` or ``Authorization: Bearer``."""
    if request.path not in _PUBLIC:
        given = request.headers.get("X-Api-Key")
        if given is None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        if not key_matches(request.app[API_KEY], given):
            body = {"error": {"type": "Unauthorized",
                              "message": "missing or wrong API key (X-Api-Key or Bearer)"}}
            return web.json_response(body, status=401)
    return await handler(request)


async def _json_object(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def _check_fields(body: dict[str, Any], allowed: dict[str, type | tuple[type, ...]]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    for key, kind in allowed.items():
        if key in body and not isinstance(body[key], kind):
            raise InvalidRequest(f"field {key!r} has the wrong type: {body[key]!r}")


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds")


def session_info(session: Session) -> dict[str, Any]:
    """Everything known about a session, as JSON."""
    worker = session.worker
    live = worker is not None and worker.returncode is None and session.state in RUNNING_STATES
    beat = worker.heartbeat if worker is not None and live else {}
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
        "worker_pid": worker.pid if live and worker else None,
        "chrome_pid": worker.chrome_pid if live and worker else None,
        "uptime_s": round(worker.uptime_s(), 1) if live and worker else None,
        "memory_bytes": beat.get("pss_bytes"),
        "processes": beat.get("processes"),
        "cdp_rtt_ms": beat.get("cdp_rtt_ms"),
        "profile_dir": session.profile_dir,
        "metadata": rec.metadata,
    }


def _status(session: Session) -> dict[str, Any]:
    rec = session.record
    return {
        "id": session.id,
        "state": str(session.state),
        "qr_available": False,
        "phone_number": rec.phone_number,
        "since": _iso(session.since),
        "restarts": rec.restarts,
        "last_error": rec.last_error,
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
    }


routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Liveness: the daemon's loop answers."""
    return web.json_response({"status": "ok"})


@routes.get("/api/stats")
async def stats(request: web.Request) -> web.Response:
    """Totals for the whole daemon."""
    return web.json_response(_stats(request.app))


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    """Every session with its live figures."""
    registry = request.app[REGISTRY]
    sessions = [session_info(s) for s in registry.sessions.values()]
    return web.json_response({"sessions": sessions, "stats": _stats(request.app)})


@routes.post("/api/sessions")
async def create_session(request: web.Request) -> web.Response:
    """Create (and by default start) a session."""
    body = await _json_object(request)
    _check_fields(body, {"id": str, "start": bool, "metadata": dict})
    session = await request.app[REGISTRY].create(
        body.get("id"), body.get("start", True), body.get("metadata", {})
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


def build_app(registry: Registry, api_key: str, max_body_bytes: int) -> web.Application:
    """The aiohttp application."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware], client_max_size=max_body_bytes
    )
    app[REGISTRY] = registry
    app[API_KEY] = api_key
    app[STARTED_AT] = time.monotonic()
    app.add_routes(routes)
    return app
