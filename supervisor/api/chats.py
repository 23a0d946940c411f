"""Chat, contact and group routes of the control API (supervisor.sessions.chats does the work;
a session that is not WORKING is a 409 naming its state).

    PUT    /api/sessions/{id}/messages/{msg}/reaction   {"emoji"} ("" removes ours)
    DELETE /api/sessions/{id}/messages/{msg}            revoke our own message for everyone
    GET    /api/sessions/{id}/chats?limit=              chats, latest first
    GET    /api/sessions/{id}/chats/{chat}/messages?limit=&before=   history, oldest first
    POST   /api/sessions/{id}/chats/{chat}/read         mark read
    POST   /api/sessions/{id}/chats/{chat}/presence     {"state": typing|recording|paused, "duration_s"?}
    GET    /api/sessions/{id}/contacts                  the address book
    GET    /api/sessions/{id}/contacts/check?phone=…    on WhatsApp? (repeat phone=, or
                                                        phones=a,b,c, for a paced batch)
    GET    /api/sessions/{id}/contacts/{contact}/picture   profile picture URL
    GET    /api/sessions/{id}/groups                    groups
    GET    /api/sessions/{id}/groups/{group}            metadata and participants
    GET    /api/sessions/{id}/groups/{group}/picture    picture URL
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from supervisor.api import chatschemas as cs
from supervisor.api import schemas as sc
from supervisor.api.keys import REGISTRY
from supervisor.api.spec import Answer, Param, operation, params
from supervisor.errors import Conflict, NotOnWhatsApp, Unavailable
from supervisor.sessions import chats
from supervisor.sessions.session import Session

__all__ = ["routes"]

routes = web.RouteTableDef()
_ERRORS = [Conflict, Unavailable]  # not WORKING; the worker did not answer


def _op(description: str, schema: dict[str, Any], **kwargs: Any) -> Any:
    """The declaration of a chat route: WhatsApp's answer, passed on as the page gives it."""
    return operation(tags=["chats"], errors=kwargs.pop("errors", _ERRORS),
                     responses={200: Answer(description, schema=schema)}, **kwargs)


def _limit(high: int) -> Param:
    return Param("limit", {"type": "integer", "minimum": 1, "maximum": high}, "at most this many")


def _session(request: web.Request) -> Session:
    return request.app[REGISTRY].get(request.match_info["id"])


def _json(result: dict[str, Any]) -> web.Response:
    return web.json_response(result)


@routes.put("/api/sessions/{id}/messages/{msg}/reaction")
@_op("The reaction", cs.DONE, body=sc.body({"emoji": {"type": "string", "maxLength": 64,
                                            "description": "one emoji; \"\" removes ours"}},
                                  required=["emoji"]))
async def put_reaction(request: web.Request, body: dict[str, Any]) -> web.Response:
    """React to a message ("" removes our reaction)."""
    return _json(await chats.react(_session(request), request.match_info["msg"], body.get("emoji")))


@routes.delete("/api/sessions/{id}/messages/{msg}")
@_op("Revoked", cs.DONE)
async def delete_message(request: web.Request) -> web.Response:
    """Revoke one of our own messages (delete for everyone)."""
    return _json(await chats.revoke(_session(request), request.match_info["msg"]))


@routes.get("/api/sessions/{id}/chats")
@_op("The chats", cs.CHATS, params=[_limit(1000)])
async def get_chats(request: web.Request) -> web.Response:
    """The chats, latest first."""
    return _json(await chats.list_chats(_session(request), params(request).get("limit")))


@routes.get("/api/sessions/{id}/chats/{chat}/messages")
@_op("The messages", cs.CHAT_MESSAGES, params=[_limit(500), Param("before", {"type": "string", "maxLength": 300},
                                                 "a message id: the messages before it")])
async def get_chat_messages(request: web.Request) -> web.Response:
    """A chat's messages before ``before`` (default: the latest), oldest first."""
    given = params(request)
    return _json(await chats.chat_messages(_session(request), request.match_info["chat"],
                                           given.get("limit"), given.get("before")))


@routes.post("/api/sessions/{id}/chats/{chat}/read")
@_op("Marked read", cs.DONE)
async def post_read(request: web.Request) -> web.Response:
    """Mark a chat read."""
    return _json(await chats.mark_read(_session(request), request.match_info["chat"]))


@routes.post("/api/sessions/{id}/chats/{chat}/presence")
@_op("The presence shown", cs.DONE, body=sc.body({
    "state": {"type": "string", "enum": ["typing", "recording", "paused"]},
    "duration_s": {"type": "number", "description": "how long (default 10)"}}, required=["state"]))
async def post_presence(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Typing, recording (for ``duration_s``, default 10) or paused."""
    return _json(await chats.presence(_session(request), request.match_info["chat"], body.get("state"),
                                      body.get("duration_s")))


@routes.get("/api/sessions/{id}/contacts")
@_op("The contacts", cs.CONTACTS)
async def get_contacts(request: web.Request) -> web.Response:
    """The address book."""
    return _json(await chats.contacts(_session(request)))


@routes.get("/api/sessions/{id}/contacts/check")
@_op("One number's answer, or {\"results\": [...]} for several", cs.CHECK,
     errors=[*_ERRORS, NotOnWhatsApp], params=[
         Param("phone", sc.array({"type": "string", "maxLength": 64}), "a number (repeat for several)"),
         Param("phones", {"type": "string"}, "numbers, comma-separated (a paced batch)")])
async def get_check(request: web.Request) -> web.Response:
    """Whether numbers are on WhatsApp: one ``phone`` gives one answer; several (``phone``
    repeated or ``phones`` comma-separated) a paced batch ``{"results": [...]}``."""
    given = params(request)
    phones: list[object] = list(given.get("phone", []))
    phones += [p.strip() for p in given.get("phones", "").split(",") if p.strip()]
    result = await chats.check_numbers(_session(request), phones)
    single = "phones" not in given and len(phones) == 1
    return _json({**result["results"][0], "session": result["session"]} if single else result)


@routes.get("/api/sessions/{id}/contacts/{contact}/picture")
@_op("The picture's URL", cs.PICTURE)
async def get_contact_picture(request: web.Request) -> web.Response:
    """A contact's profile picture URL (``url`` null when none or hidden)."""
    return _json(await chats.profile_picture(_session(request), request.match_info["contact"]))


@routes.get("/api/sessions/{id}/groups")
@_op("The groups", cs.GROUPS)
async def get_groups(request: web.Request) -> web.Response:
    """The groups the account is in."""
    return _json(await chats.groups(_session(request)))


@routes.get("/api/sessions/{id}/groups/{group}")
@_op("The group", cs.GROUP)
async def get_group(request: web.Request) -> web.Response:
    """One group's metadata and participants."""
    return _json(await chats.group_info(_session(request), request.match_info["group"]))


@routes.get("/api/sessions/{id}/groups/{group}/picture")
@_op("The picture's URL", cs.PICTURE)
async def get_group_picture(request: web.Request) -> web.Response:
    """A group's picture URL."""
    return _json(await chats.profile_picture(_session(request), request.match_info["group"]))
