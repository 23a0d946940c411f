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

from supervisor.api.httputil import check_fields, decimal, json_object
from supervisor.api.keys import REGISTRY
from supervisor.sessions import chats
from supervisor.sessions.session import Session

__all__ = ["routes"]

routes = web.RouteTableDef()


def _session(request: web.Request) -> Session:
    return request.app[REGISTRY].get(request.match_info["id"])


def _limit(request: web.Request, high: int) -> int | None:
    raw = request.query.get("limit")
    return None if raw is None else decimal(raw, "limit", 1, high)


def _json(result: dict[str, Any]) -> web.Response:
    return web.json_response(result)


@routes.put("/api/sessions/{id}/messages/{msg}/reaction")
async def put_reaction(request: web.Request) -> web.Response:
    """React to a message ("" removes our reaction)."""
    body = await json_object(request)
    check_fields(body, {"emoji": str})
    return _json(await chats.react(_session(request), request.match_info["msg"], body.get("emoji")))


@routes.delete("/api/sessions/{id}/messages/{msg}")
async def delete_message(request: web.Request) -> web.Response:
    """Revoke one of our own messages (delete for everyone)."""
    return _json(await chats.revoke(_session(request), request.match_info["msg"]))


@routes.get("/api/sessions/{id}/chats")
async def get_chats(request: web.Request) -> web.Response:
    """The chats, latest first."""
    return _json(await chats.list_chats(_session(request), _limit(request, 1000)))


@routes.get("/api/sessions/{id}/chats/{chat}/messages")
async def get_chat_messages(request: web.Request) -> web.Response:
    """A chat's messages before ``before`` (default: the latest), oldest first."""
    return _json(await chats.chat_messages(_session(request), request.match_info["chat"],
                                           _limit(request, 500), request.query.get("before")))


@routes.post("/api/sessions/{id}/chats/{chat}/read")
async def post_read(request: web.Request) -> web.Response:
    """Mark a chat read."""
    return _json(await chats.mark_read(_session(request), request.match_info["chat"]))


@routes.post("/api/sessions/{id}/chats/{chat}/presence")
async def post_presence(request: web.Request) -> web.Response:
    """Typing, recording (for ``duration_s``, default 10) or paused."""
    body = await json_object(request)
    check_fields(body, {"state": str, "duration_s": (int, float)})
    return _json(await chats.presence(_session(request), request.match_info["chat"], body.get("state"),
                                      body.get("duration_s")))


@routes.get("/api/sessions/{id}/contacts")
async def get_contacts(request: web.Request) -> web.Response:
    """The address book."""
    return _json(await chats.contacts(_session(request)))


@routes.get("/api/sessions/{id}/contacts/check")
async def get_check(request: web.Request) -> web.Response:
    """Whether numbers are on WhatsApp: one ``phone`` gives one answer; several (``phone``
    repeated or ``phones`` comma-separated) a paced batch ``{"results": [...]}``."""
    phones: list[object] = list(request.query.getall("phone", []))
    phones += [p.strip() for p in request.query.get("phones", "").split(",") if p.strip()]
    result = await chats.check_numbers(_session(request), phones)
    single = "phones" not in request.query and len(phones) == 1
    return _json({**result["results"][0], "session": result["session"]} if single else result)


@routes.get("/api/sessions/{id}/contacts/{contact}/picture")
async def get_contact_picture(request: web.Request) -> web.Response:
    """A contact's profile picture URL (``url`` null when none or hidden)."""
    return _json(await chats.profile_picture(_session(request), request.match_info["contact"]))


@routes.get("/api/sessions/{id}/groups")
async def get_groups(request: web.Request) -> web.Response:
    """The groups the account is in."""
    return _json(await chats.groups(_session(request)))


@routes.get("/api/sessions/{id}/groups/{group}")
async def get_group(request: web.Request) -> web.Response:
    """One group's metadata and participants."""
    return _json(await chats.group_info(_session(request), request.match_info["group"]))


@routes.get("/api/sessions/{id}/groups/{group}/picture")
async def get_group_picture(request: web.Request) -> web.Response:
    """A group's picture URL."""
    return _json(await chats.profile_picture(_session(request), request.match_info["group"]))
