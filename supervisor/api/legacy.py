"""The routes of the two systems zapvisor replaces, so that their clients work unchanged (with
the API key). Their other routes are zapvisor's own (``/api/sessions``, ``/qr``, ``/api/stats``),
whose session objects carry the old field names too (api/sessions.py).

zapnode::

    POST   /sessions               {"sessionId", "headless"?} -> 201, created and started
    GET    /sessions               {"success", "sessions", "stats"}  (a browser: the dashboard)
    GET    /sessions/{id}          the session                       (a browser: the dashboard)
    GET    /sessions/{id}/status   its status
    DELETE /sessions/{id}          stop it, delete its profile and record
    POST   /sessions/{id}/send     {"phoneNumber", "message"}
    POST   /webhook/test           {"phoneNumber", "message", "sessionId"?} (else the default session)

WhatsappSessionManager::

    POST /api/sessions/{id}/send-message  {"phoneNumber", "message"}
    POST /api/assign-number               {"sessionId", "type"}: role ``type`` is that session alone
    GET  /api/current-assignments         every role: its sessions, their numbers and send URLs
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from supervisor.api import dashboard, sessions, whatsapp
from supervisor.api.httputil import check_fields, json_object
from supervisor.api.keys import ENV_FILE, REGISTRY, ROLES
from supervisor.errors import InvalidRequest
from supervisor.sessions.roleenv import send_path
from supervisor.sessions.roles import check_role
from supervisor.sessions.session import Session

__all__ = ["routes"]

routes = web.RouteTableDef()
_VARY = {"Vary": "Accept"}  # one address, two representations: caches must tell them apart


# -- zapnode --------------------------------------------------------------------------------


@routes.post("/sessions")
async def post_session(request: web.Request) -> web.Response:
    """Create and start a session (``headless: false``: with a Chrome window)."""
    return web.json_response({"success": True, **await sessions.create(request)}, status=201)


@routes.get("/sessions")
async def get_sessions(request: web.Request) -> web.StreamResponse:
    """Every session as JSON; the dashboard's sessions page for a browser."""
    if dashboard.is_page(request):
        return await _page(request)
    return web.json_response({"success": True, **sessions.listing(request.app)}, headers=_VARY)


@routes.get("/sessions/{id}")
async def get_session(request: web.Request) -> web.StreamResponse:
    """One session as JSON; the dashboard's session page for a browser."""
    if dashboard.is_page(request):
        return await _page(request)
    session = request.app[REGISTRY].get(request.match_info["id"])
    return web.json_response({"success": True, **sessions.session_info(session)}, headers=_VARY)


async def _page(request: web.Request) -> web.StreamResponse:
    response = await dashboard.page(request)
    response.headers.update(_VARY)
    return response


@routes.get("/sessions/{id}/status")
async def get_status(request: web.Request) -> web.Response:
    """The short status of one session."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    return web.json_response({"success": True, **sessions.short_status(session)})


@routes.delete("/sessions/{id}")
async def delete_session(request: web.Request) -> web.Response:
    """Stop a session and delete its profile and record."""
    session_id = request.match_info["id"]
    await request.app[REGISTRY].delete(session_id)
    return web.json_response({"success": True, "id": session_id, "sessionId": session_id,
                              "deleted": True})


def _legacy_status(status: int) -> int:
    """The replaced systems answered a send with 200: so do their routes once it is sent (a
    send still queued is a 202, also a success)."""
    return 200 if status == 201 else status


async def _send_alias(request: web.Request) -> web.Response:
    body = await json_object(request)
    check_fields(body, {"phoneNumber": (str, int), "message": str, "to": (str, int), "text": str})
    session = request.app[REGISTRY].get(request.match_info["id"])
    status, result = await whatsapp.send(request, session, body)
    return web.json_response({"success": True, **result}, status=_legacy_status(status))


for _path in ("/sessions/{id}/send", "/api/sessions/{id}/send-message"):
    routes.post(_path)(_send_alias)


@routes.post("/webhook/test")
async def post_webhook_test(request: web.Request) -> web.Response:
    """Send through ``sessionId``, else the default session."""
    status, result = await whatsapp.routed_send(request)
    return web.json_response({"success": True, **result}, status=_legacy_status(status))


# -- WhatsappSessionManager -----------------------------------------------------------------


def _member(session_id: str, session: Session | None) -> dict[str, Any]:
    return {"sessionId": session_id,
            "phoneNumber": session.record.phone_number if session else None,
            "status": str(session.state) if session else None,
            "sendUrl": send_path(session_id)}


@routes.post("/api/assign-number")
async def assign_number(request: web.Request) -> web.Response:
    """Make session ``sessionId`` the one number of role ``type`` (replacing the role's
    sessions); the env file follows before the answer."""
    body = await json_object(request)
    check_fields(body, {"sessionId": str, "type": str})
    for field in ("sessionId", "type"):
        if field not in body:
            raise InvalidRequest(f"field {field!r} is required")
    role = check_role(body["type"])
    session = request.app[REGISTRY].get(body["sessionId"])
    roles = request.app[ROLES]
    previous = roles.all().get(role, [])
    roles.set(role, [session.id])
    env_file = request.app[ENV_FILE]
    await env_file.sync()
    return web.json_response({"success": True, "type": role, **_member(session.id, session),
                              "previous": previous, "envFile": env_file.status()})


@routes.get("/api/current-assignments")
async def current_assignments(request: web.Request) -> web.Response:
    """Every role with its sessions (the first one leads), their numbers and send URLs."""
    known = request.app[REGISTRY].sessions
    assignments = {}
    for role, members in request.app[ROLES].all().items():
        listed = [_member(s, known.get(s)) for s in members]
        assignments[role] = {**listed[0], "sessions": listed}
    return web.json_response({"success": True, "assignments": assignments,
                              "envFile": request.app[ENV_FILE].status()})
