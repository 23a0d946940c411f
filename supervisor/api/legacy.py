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
from supervisor.api import schemas as sc
from supervisor.api.keys import ENV_FILE, REGISTRY, ROLES
from supervisor.api.listing import listing_response
from supervisor.api.spec import Answer, operation
from supervisor.api.views import session_info, short_status
from supervisor.errors import NotFound
from supervisor.sessions.rolebook import Member
from supervisor.sessions.roleenv import send_path
from supervisor.sessions.roles import check_role

__all__ = ["routes"]

routes = web.RouteTableDef()
_VARY = {"Vary": "Accept"}  # one address, two representations: caches must tell them apart
_ZAPNODE, _WSM = ["zapnode"], ["WhatsappSessionManager"]
_SEND = sc.body({**whatsapp.TEXT})
#: A send's answers on these routes: 200 (not 201) once sent, as the replaced systems did.
_SEND_ANSWERS = {200: Answer("Sent", schema=sc.success(sc.SENT)),
                 202: Answer("Queued: poll status_url", schema=sc.success(sc.QUEUED))}
_ENV_FILE = sc.nullable(sc.obj({"path": sc.STR, "ok": sc.BOOL, "failures": sc.INT,
                                "lastError": sc.nullable(sc.STR)}))
_MEMBER = {"sessionId": sc.STR, "phoneNumber": sc.nullable(sc.STR), "status": sc.nullable(sc.STATE),
           "sendUrl": sc.STR}


# -- zapnode --------------------------------------------------------------------------------


@routes.post("/sessions")
@operation(tags=_ZAPNODE, body=sessions.CREATE, errors=sessions.CREATE_ERRORS,
           responses={201: Answer("Created and starting", schema=sc.success(sessions.CREATED))})
async def post_session(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Create and start a session (``headless: false``: with a Chrome window)."""
    return web.json_response({"success": True, **await sessions.create(request, body)}, status=201)


@routes.get("/sessions")
@operation(tags=_ZAPNODE, responses={200: Answer(
    "The sessions as JSON; the dashboard's page when Accept ranks text/html first (no key then)",
    schema=sc.success(sc.LISTING), media=dashboard.PAGE.media)})
async def get_sessions(request: web.Request) -> web.StreamResponse:
    """Every session as JSON; the dashboard's sessions page for a browser."""
    if dashboard.is_page(request):
        return await _page(request)
    return await listing_response(request, {"success": True}, headers=_VARY)


@routes.get("/sessions/{id}")
@operation(tags=_ZAPNODE, responses={200: Answer(
    "The session as JSON; the dashboard's page when Accept ranks text/html first (no key then)",
    schema=sc.success(sc.SESSION), media=dashboard.PAGE.media)})
async def get_session(request: web.Request) -> web.StreamResponse:
    """One session as JSON; the dashboard's session page for a browser."""
    if dashboard.is_page(request):
        return await _page(request)
    session = request.app[REGISTRY].get(request.match_info["id"])
    return web.json_response({"success": True, **session_info(session)}, headers=_VARY)


async def _page(request: web.Request) -> web.StreamResponse:
    response = await dashboard.page(request)
    response.headers.update(_VARY)
    return response


@routes.get("/sessions/{id}/status")
@operation(tags=_ZAPNODE, responses={200: Answer("The short status", schema=sc.success(sc.SHORT_STATUS))})
async def get_status(request: web.Request) -> web.Response:
    """The short status of one session."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    return web.json_response({"success": True, **short_status(session)})


@routes.delete("/sessions/{id}")
@operation(tags=_ZAPNODE, errors=sessions.DELETE_ERRORS, responses={200: Answer("Deleted", schema=sc.success(
    {**sessions.DELETED, "properties": {**sessions.DELETED["properties"], "sessionId": sc.STR}}))})
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


def _send_alias(tags: list[str]) -> Any:
    @operation(tags=tags, body=_SEND, params=sc.SEND_PARAMS, errors=whatsapp.SEND_ERRORS,
               responses=_SEND_ANSWERS)
    async def send_alias(request: web.Request, body: dict[str, Any]) -> web.Response:
        """Send a text through this session: ``phoneNumber`` (or ``to``) and ``message`` (or
        ``text``)."""
        session = request.app[REGISTRY].get(request.match_info["id"])
        status, result = await whatsapp.send(request, session, body)
        return web.json_response({"success": True, **result}, status=_legacy_status(status))

    return send_alias


routes.post("/sessions/{id}/send")(_send_alias(_ZAPNODE))
routes.post("/api/sessions/{id}/send-message")(_send_alias(_WSM))


@routes.post("/webhook/test")
@operation(tags=_ZAPNODE, body=whatsapp.ROUTED, params=sc.SEND_PARAMS, errors=[NotFound, *whatsapp.SEND_ERRORS],
           responses=_SEND_ANSWERS)
async def post_webhook_test(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Send through ``sessionId``, else the default session."""
    status, result = await whatsapp.routed_send(request, body)
    return web.json_response({"success": True, **result}, status=_legacy_status(status))


# -- WhatsappSessionManager -----------------------------------------------------------------


def _member(session_id: str, member: Member) -> dict[str, Any]:
    return {"sessionId": session_id, "phoneNumber": member.phone_number, "status": member.state,
            "sendUrl": send_path(session_id)}


@routes.post("/api/assign-number")
@operation(tags=_WSM, errors=[NotFound], body=sc.body({"sessionId": sc.SESSION_ID, "type": {
    **sc.ROLE_NAME, "description": "the role"}}, required=["sessionId", "type"]),
    responses={200: Answer("The role's one session", schema=sc.success(sc.obj({
        "type": sc.STR, **_MEMBER, "previous": sc.array(sc.STR), "envFile": _ENV_FILE})))})
async def assign_number(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Make session ``sessionId`` the one number of role ``type`` (replacing the role's
    sessions); the env file follows before the answer."""
    role, session_id = check_role(body["type"]), body["sessionId"]
    roles = request.app[ROLES]
    if not await roles.book.existing([session_id]):
        raise NotFound(f"session {session_id!r} does not exist")
    _, previous = await roles.set(role, [session_id])
    env_file = request.app[ENV_FILE]
    await env_file.sync()
    member = (await roles.book.members([session_id]))[session_id]
    return web.json_response({"success": True, "type": role, **_member(session_id, member),
                              "previous": previous, "envFile": env_file.status()})


@routes.get("/api/current-assignments")
@operation(tags=_WSM, responses={200: Answer("Every role: its first session, and all of them", schema=sc.success(
    sc.obj({"assignments": {"type": "object", "additionalProperties": sc.obj({
        **_MEMBER, "sessions": sc.array(sc.obj(_MEMBER))})}, "envFile": _ENV_FILE})))})
async def current_assignments(request: web.Request) -> web.Response:
    """Every role with its sessions (the first one leads), their numbers and send URLs."""
    roles = request.app[ROLES]
    everyone = await roles.all()
    known = await roles.book.members(sorted({s for members in everyone.values() for s in members}))
    assignments = {}
    for role, members in everyone.items():
        listed = [_member(s, known[s]) for s in members]
        assignments[role] = {**listed[0], "sessions": listed}
    return web.json_response({"success": True, "assignments": assignments,
                              "envFile": request.app[ENV_FILE].status()})
