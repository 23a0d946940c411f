"""The HTTP control API (aiohttp): the application, its authentication and its error mapping.

Routes live in one module per area (``legacy``: the routes of the systems zapvisor replaces).
Handlers validate input, call the registry, return JSON.

Errors are JSON ``{"error": {"type", "message"}}`` with the status of their class in
``supervisor.errors``; a traceback never reaches a client.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from supervisor.api import chats as api_chats
from supervisor.api import cluster as api_cluster
from supervisor.api import dashboard as api_dashboard
from supervisor.api import events as api_events
from supervisor.api import forward as api_forward
from supervisor.api import health as api_health
from supervisor.api import history as api_history
from supervisor.api import legacy as api_legacy
from supervisor.api import media as api_media
from supervisor.api import openapi as api_openapi
from supervisor.api import queue as api_queue
from supervisor.api import roles as api_roles
from supervisor.api import sessions as api_sessions
from supervisor.api import webhooks as api_webhooks
from supervisor.api import whatsapp as api_whatsapp
from supervisor.api.jsoncache import KeptJson
from supervisor.api.keys import (
    API_KEY,
    BODY_TIMEOUT,
    CLUSTER,
    HOST,
    LISTING,
    REGISTRY,
    STARTED_AT,
)
from supervisor.api.listener import ConnectionGuard
from supervisor.apikey import key_matches
from supervisor.errors import NotFound, PayloadTooLarge, ZapvisorError
from supervisor.logs import get_logger
from supervisor.sessions.pressure import HostFigures
from supervisor.sessions.registry import Registry

__all__ = ["build_app"]

if TYPE_CHECKING:
    from supervisor.cluster.node import ClusterNode


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = get_logger()


def _error_response(error: ZapvisorError) -> web.Response:
    retry_after = getattr(error, "retry_after_s", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response(error.to_dict(), status=error.status, headers=headers)


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
    """Every route needs ``X-Api-Key`` or ``Authorization: Bearer`` but those declared public
    (api/spec.py: /health, /health/ready, /openapi.json, /docs, the dashboard's page and assets,
    which hold no secret: the page sends the key typed into its login form), and zapnode's
    ``/sessions[/{id}]`` when a browser asks for the dashboard's page there."""
    if not api_openapi.is_public(request) and not api_dashboard.is_page(request):
        given = request.headers.get("X-Api-Key")
        if given is None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        cluster = request.app.get(CLUSTER)
        if not key_matches(request.app[API_KEY], given) and not (
                cluster is not None and key_matches(cluster.key, given)):
            body = {"error": {"type": "Unauthorized",
                              "message": "missing or wrong API key (X-Api-Key or Bearer)"}}
            return web.json_response(body, status=401)
    return await handler(request)


def build_app(registry: Registry, api_key: str, max_body_bytes: int, body_timeout_s: float = 30.0,
              guard: ConnectionGuard | None = None, cluster: ClusterNode | None = None) -> web.Application:
    """The aiohttp application (``guard``: the listener's, told which connections are busy;
    ``cluster``: this node of a cluster, whose other nodes' sessions it forwards to them)."""
    middlewares = [error_middleware, auth_middleware]
    if guard is not None:
        middlewares.insert(0, guard.middleware)
    if cluster is not None:
        middlewares.append(api_forward.cluster_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    if cluster is not None:
        app[CLUSTER] = cluster
    app[BODY_TIMEOUT] = body_timeout_s
    app[REGISTRY] = registry
    app[API_KEY] = api_key
    app[STARTED_AT] = time.monotonic()
    app[HOST] = HostFigures(time.monotonic())
    app[LISTING] = KeptJson()
    for module in (api_health, api_sessions, api_events, api_history, api_webhooks, api_whatsapp,
                   api_media, api_queue, api_chats, api_roles, api_legacy, api_cluster, api_dashboard,
                   api_openapi):
        app.add_routes(module.routes)
    return app
