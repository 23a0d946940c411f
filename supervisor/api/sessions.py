"""Session routes of the control API: create, list, get, status, start, stop, restart, delete,
and the daemon's totals.

Every session object also carries the names the replaced systems used (``sessionId``,
``status``, ``qrAvailable``, ``phoneNumber``), so their clients read it unchanged; create takes
``sessionId`` for ``id`` (see api/legacy.py for their routes).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from supervisor.api import schemas as sc
from supervisor.api.keys import HUB, REGISTRY
from supervisor.api.listing import listing_response
from supervisor.api.spec import Answer, operation
from supervisor.api.views import (
    daemon_stats,
    session_info,
    short_status,
    with_queue,
)
from supervisor.errors import (
    Conflict,
    InvalidRequest,
    Overloaded,
    TooManySessions,
    Unavailable,
    ZapvisorError,
)
from supervisor.events.webhooks import MAX_HOOKS_PER_SESSION
from supervisor.jsonlimits import metadata_problem
from supervisor.sessions import options, updates
from supervisor.sessions.session import Session
from supervisor.settings.rules import EVENT_PATTERN

__all__ = ["CREATE", "CREATED", "CREATE_ERRORS", "DELETED", "DELETE_ERRORS", "WEBHOOK", "WEBHOOKS", "create", "routes", "stats"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


routes = web.RouteTableDef()
_TAGS = ["sessions"]
#: The per-session options a create or update request may carry (sessions/options.py).
_OPTIONS = {name: dict(option.schema) for name, option in options.OPTIONS.items()}
#: A session's own webhook (create, and PUT /api/sessions/{id}/webhooks).
WEBHOOK = sc.body({
    "url": {**sc.STR, "description": "http:// or https://; a public address unless "
            "[webhooks] allow_private_networks", "examples": ["https://crm.example/hooks/whatsapp"]},
    "events": {**sc.array({"type": "string", "pattern": f"^(?:{EVENT_PATTERN.pattern})$"}),
               "description": "event names or families (session.status, message.*); [] or none: all"},
    "secret": {**sc.STR, "writeOnly": True, "description": "signs each delivery (HMAC-SHA256)"},
}, required=["url"])
WEBHOOKS = sc.array(WEBHOOK, maxItems=MAX_HOOKS_PER_SESSION)
#: POST /api/sessions (and zapnode's POST /sessions).
CREATE = sc.body({
    "id": {**sc.SESSION_ID, "description": "the new session's id (default: generated)"},
    "sessionId": {**sc.SESSION_ID, "description": "the replaced systems' name for id"},
    "start": {"type": "boolean", "default": True}, "metadata": sc.OBJ,
    "webhooks": WEBHOOKS,
    "headless": {"type": "boolean", "description": "false: a Chrome window (needs a display)"},
    "node": {"type": "string", "description": "in a cluster: the node to create it on "
             "(default: the live node with the most room)"},
    **_OPTIONS,
})
CREATED = sc.session_obj({**sc.SESSION_BASE, "status_url": sc.STR, "qr_url": sc.STR,
                          "statusUrl": sc.STR, "qrUrl": sc.STR})
DELETED = sc.obj({"id": sc.STR, "deleted": {"const": True}})
_STATS = sc.obj({**sc.STATS["properties"], "per_session": sc.array(sc.OBJ),
                 "messages": sc.obj({"sent": sc.INT, "received": sc.INT}),
                 "restarts_by_reason": sc.OBJ, "webhooks": sc.OBJ, "events": sc.OBJ})
CREATE_ERRORS = [Conflict, TooManySessions, Overloaded, Unavailable]
DELETE_ERRORS = [Conflict, Unavailable]


@routes.get("/api/stats")
@operation(tags=["daemon"], responses={200: Answer("The totals", schema=_STATS)})
async def stats(request: web.Request) -> web.Response:
    """Totals for the whole daemon, and per session: memory, CPU, messages, restarts."""
    return web.json_response({**daemon_stats(request.app), **request.app[HUB].metrics.stats()})


@routes.get("/api/sessions")
@operation(tags=_TAGS, responses={200: Answer("The sessions and the totals", schema=sc.LISTING)})
async def list_sessions(request: web.Request) -> web.Response:
    """Every session with its live figures."""
    return await listing_response(request)


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


async def create(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Create (and by default start) a session from the request's ``body`` (checked against
    CREATE); the answer's body."""
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
@operation(tags=_TAGS, body=CREATE, errors=CREATE_ERRORS,
           responses={201: Answer("Created (and starting, unless start is false)", schema=CREATED)})
async def create_session(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Create (and by default start) a session. ``id`` and ``sessionId`` name the same thing:
    give one (both only if they agree)."""
    return web.json_response(await create(request, body), status=201)


@routes.get("/api/sessions/{id}")
@operation(tags=_TAGS, responses={200: Answer("The session", schema=sc.SESSION_Q)})
async def get_session(request: web.Request) -> web.Response:
    """Full information on one session."""
    return web.json_response(with_queue(request.app, request.app[REGISTRY].get(request.match_info["id"])))


_UPDATE = sc.body({"metadata": {**sc.OBJ, "description": "replaces the metadata"}, **_OPTIONS})


@routes.patch("/api/sessions/{id}")
@operation(tags=_TAGS, body=_UPDATE, errors=[Conflict, Unavailable],
           responses={200: Answer("The session, changed", schema=sc.SESSION_Q)})
async def update_session(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Change a session: ``metadata`` (replaced) and its options (``proxy``: a URL, or null or
    "" to remove it; ``sending``: [sending] keys, merged). A running session restarts on its
    profile when its proxy changes."""
    if not body:
        raise InvalidRequest(f"nothing to change: give {', '.join(['metadata', *options.OPTIONS])}")
    if "metadata" in body:
        _check_metadata(body["metadata"])
    session = await updates.update_session(request.app[REGISTRY], request.match_info["id"],
                                           body.get("metadata"), options.parse_changes(body))
    return web.json_response(with_queue(request.app, session))


@routes.get("/api/sessions/{id}/status")
@operation(tags=_TAGS, responses={200: Answer("The short status", schema=sc.SHORT_STATUS)})
async def session_status(request: web.Request) -> web.Response:
    """The short status of one session."""
    return web.json_response(short_status(request.app[REGISTRY].get(request.match_info["id"])))


_LIFECYCLE: dict[str, tuple[str, list[type[ZapvisorError]]]] = {
    "start": ("Start a stopped or FAILED session (on its profile: no new QR if it was logged in).",
              [Conflict, TooManySessions, Overloaded, Unavailable]),
    "stop": ("Stop a session (Chrome closed in order; the profile and login are kept).",
             [Conflict, Unavailable]),
    "restart": ("Stop and start a session on its profile.", [Conflict, Overloaded, Unavailable]),
}


def _lifecycle(name: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        registry = request.app[REGISTRY]
        change: Callable[[str], Awaitable[Session]] = getattr(registry, name)
        session = await change(request.match_info["id"])
        return web.json_response(session_info(session))

    handler.__doc__, errors = _LIFECYCLE[name]
    return operation(tags=_TAGS, errors=errors,
                     responses={200: Answer("The session", schema=sc.SESSION)})(handler)


for _name in _LIFECYCLE:
    routes.post(f"/api/sessions/{{id}}/{_name}")(_lifecycle(_name))


@routes.delete("/api/sessions/{id}")
@operation(tags=_TAGS, errors=DELETE_ERRORS,
           responses={200: Answer("Deleted", schema=DELETED)})
async def delete_session(request: web.Request) -> web.Response:
    """Stop a session and delete its profile and record."""
    session_id = request.match_info["id"]
    await request.app[REGISTRY].delete(session_id)
    return web.json_response({"id": session_id, "deleted": True})


