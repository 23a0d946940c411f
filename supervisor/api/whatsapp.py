"""WhatsApp routes of the control API: QR code, pairing code, logout, sending texts (to a named
session, a role, or the default session). The replaced systems' send routes are in api/legacy.py.

    GET  /api/sessions/{id}/qr              PNG; ?format=raw -> {"value"}; Accept: application/json
                                            (or ?format=json) -> {"mimetype", "data": base64,
                                            "modules": its width in modules}
    POST /api/sessions/{id}/pairing-code    {"phone"} -> {"code", "display", "phone"}
    POST /api/sessions/{id}/logout          log the account out (session.logout follows)
    POST /api/sessions/{id}/messages        {"to", "text", "reply_to"?, "mentions"?} -> 201 {"id", "to",
                                            "ack", "timestamp", "session", "queue_id"} once sent,
                                            or 202 {"queue_id", "status_url", ...} while queued
                                            (every send goes through the queue: api/queue.py;
                                            media: api/media.py)
    POST /api/send                          {"to", "text", "sessionId"? | "role"?} (default session)
"""

from __future__ import annotations

import base64
import functools
import io
from typing import Any

import segno
from aiohttp import web

from supervisor.api import queue
from supervisor.api import schemas as sc
from supervisor.api.forward import picked_session
from supervisor.api.keys import REGISTRY, ROLES
from supervisor.api.spec import Answer, Param, operation, params
from supervisor.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    NotOnWhatsApp,
    RateLimited,
    Unavailable,
)
from supervisor.sessions import messaging
from supervisor.sessions.session import Session
from supervisor.states import State

__all__ = ["ROUTED", "SEND_ERRORS", "TEXT", "qr_png", "routed_send", "routes", "send"]

routes = web.RouteTableDef()

_NO_STORE = {"Cache-Control": "no-store"}  # a QR is valid for seconds
_PHONE = {"type": ["string", "integer"], "description": "a phone number (digits, with the "
          "country code) or a chat id (…@c.us, …@g.us)", "examples": ["244929782402"]}
#: The fields of a text send: ``to`` (or the replaced systems' ``phoneNumber``) and ``text``
#: (or ``message``), one of each.
TEXT = {"to": _PHONE, "text": {"type": "string", "description": "the message", "examples": ["Hello!"]},
        "phoneNumber": {**_PHONE, "description": "the replaced systems' name for to"},
        "message": {"type": "string", "description": "the replaced systems' name for text"}}
_SEND = sc.body({"to": _PHONE, "text": TEXT["text"],
                 "reply_to": {"type": "string", "description": "the id of the message to quote"},
                 "mentions": sc.array(sc.STR, description="ids of the mentioned contacts")},
                required=["to", "text"])
ROUTED = sc.body({**TEXT, "sessionId": sc.SESSION_ID, "session": sc.SESSION_ID,
                   "role": sc.ROLE_NAME, "reply_to": _SEND["properties"]["reply_to"],
                   "mentions": _SEND["properties"]["mentions"]})
SEND_ERRORS = [Conflict, NotOnWhatsApp, RateLimited, Unavailable]
_QR_JSON = {"oneOf": [sc.obj({"value": {**sc.STR, "description": "the QR code's text"}}),
                      sc.obj({"mimetype": {"const": "image/png"},
                              "data": {**sc.STR, "description": "the PNG, base64"},
                              "modules": {**sc.INT, "description": "its width in modules, quiet "
                                          "zone included"}})]}
_WHY_NO_QR = {
    State.WORKING: "it is WORKING (already logged in)",
    State.STARTING: "it is STARTING (wait for SCAN_QR_CODE)",
    State.STOPPED: "it is STOPPED (start it first)",
    State.FAILED: "it is FAILED (see last_error; start it again)",
}


_QR_BORDER = 4  # the quiet zone the QR standard asks for, in modules


@functools.lru_cache(maxsize=64)
def qr_png(value: str) -> tuple[bytes, int]:
    """The QR code of ``value`` as a PNG, and its width in modules, quiet zone included (a
    page shows it sharp at a whole number of pixels per module). Cached: every poll of a
    client asks for the same."""
    buffer = io.BytesIO()
    code = segno.make_qr(value, error="l")
    code.save(buffer, kind="png", scale=6, border=_QR_BORDER)
    return buffer.getvalue(), int(code.symbol_size(border=_QR_BORDER)[0])


def _offered_qr(session: Session) -> str:
    value = session.offered_qr()
    if value is None:
        why = _WHY_NO_QR.get(session.state, f"it is {session.state}")
        raise NotFound(f"session {session.id!r} offers no QR code: {why}")
    return value


@routes.get("/api/sessions/{id}/qr")
@operation(tags=["whatsapp"], errors=[NotFound], params=[Param(
    "format", {"type": "string", "enum": ["png", "raw", "json"]},
    "png (default; or json when Accept is application/json), raw: the code's text, json: the PNG in base64")],
    responses={200: Answer("The QR code", schema=_QR_JSON, media={"image/png": {
        "type": "string", "format": "binary"}})})
async def get_qr(request: web.Request) -> web.Response:
    """The QR code to scan, while the session is SCAN_QR_CODE (404 naming the state otherwise)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    form = params(request).get("format", "")
    value = _offered_qr(session)
    if form == "raw":
        return web.json_response({"value": value}, headers=_NO_STORE)
    png, modules = qr_png(value)
    if form == "json" or (not form and "application/json" in request.headers.get("Accept", "")):
        data = base64.b64encode(png).decode("ascii")
        return web.json_response({"mimetype": "image/png", "data": data, "modules": modules},
                                 headers=_NO_STORE)
    return web.Response(body=png, content_type="image/png", headers=_NO_STORE)


@routes.post("/api/sessions/{id}/pairing-code")
@operation(tags=["whatsapp"], body=sc.body({"phone": _PHONE}, required=["phone"]),
           errors=[Conflict, Unavailable], responses={200: Answer("The code", schema=sc.obj({
               "code": sc.STR, "display": {**sc.STR, "description": "ABCD-EFGH"}, "phone": sc.STR}))})
async def post_pairing_code(request: web.Request, body: dict[str, Any]) -> web.Response:
    """A code to type on the phone instead of scanning the QR code (while SCAN_QR_CODE)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    return web.json_response(await messaging.pairing_code(session, _text(body.get("phone"))))


@routes.post("/api/sessions/{id}/logout")
@operation(tags=["whatsapp"], errors=[Conflict, Unavailable], responses={200: Answer(
    "Logged out", schema=sc.obj({"id": sc.STR, "logged_out": {"const": True}, "profile_cleanup": sc.ANY}))})
async def post_logout(request: web.Request) -> web.Response:
    """Log the account out; with auto_cleanup_on_logout its profile is deleted next."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    return web.json_response(await messaging.logout(session))


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _one(body: dict[str, Any], *names: str) -> Any:
    given = [name for name in names if name in body]
    if len(given) > 1:
        raise InvalidRequest(f"give {' or '.join(names)}, not both")
    if not given:
        raise InvalidRequest(f"field {names[0]!r} is required")
    return _text(body[given[0]])


async def send(request: web.Request, session: Session, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Queue ``body``'s text (``text`` or ``message``) to its ``to`` or ``phoneNumber``; the
    answer as api/queue.py gives it (201 sent, 202 queued)."""
    chat, payload = messaging.text_send(session.ctx.config.whatsapp, _one(body, "to", "phoneNumber"),
                                        _one(body, "text", "message"), body.get("reply_to"),
                                        body.get("mentions"))
    return await queue.answer(request, session, chat, "text", payload)


@routes.post("/api/sessions/{id}/messages")
@operation(tags=["messages"], body=_SEND, params=sc.SEND_PARAMS, errors=SEND_ERRORS,
           responses=sc.SEND_ANSWERS)
async def post_message(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Send a text through this session (queued, paced; 201 once sent, 202 while queued)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    status, result = await send(request, session, body)
    return web.json_response(result, status=status)


async def routed_send(request: web.Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Send ``body`` (checked against its route's schema) through its ``sessionId``/``session``,
    ``role``, or the default session."""
    if "sessionId" in body and "session" in body:
        raise InvalidRequest("give sessionId or session, not both")
    picked = picked_session(request)  # a cluster's node chose it already (api/forward.py)
    session_id = picked or await request.app[ROLES].route(body.get("sessionId", body.get("session")),
                                                          body.get("role"))
    session = request.app[REGISTRY].get(session_id)
    status, result = await send(request, session, body)
    return status, ({**result, "role": body["role"]} if "role" in body else result)


@routes.post("/api/send")
@operation(tags=["messages"], body=ROUTED, params=sc.SEND_PARAMS, errors=[NotFound, *SEND_ERRORS],
           responses=sc.SEND_ANSWERS)
async def post_send(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Send through a named session (``sessionId`` or ``session``), a WORKING session of a
    ``role``, or the default session. ``to`` or ``phoneNumber``, ``text`` or ``message``."""
    status, result = await routed_send(request, body)
    return web.json_response(result, status=status)
