"""Messaging beyond text, on the server side: what the page reports (reactions, revokes, read
receipts, chat states: ``activity``), older messages it fetches, profile pictures, and the test
controls that play the phone (a reaction, a revoke, an edit, a group, a join or leave, old
messages). The page side is static/messaging.js and static/media.js; the media servers mms.py.

    POST /_sim/reaction     {phone, message_id, emoji, sender?}  a contact reacts
    POST /_sim/revoke       {phone, message_id}                  a contact deletes for everyone
    POST /_sim/edit         {phone, message_id, body}            a contact edits its message
    POST /_sim/group        {phone, id, subject, participants: [phone | {phone, admin?, share_phone?}]}
    POST /_sim/group-event  {phone, group_id, subtype: add|invite|remove|leave, participants, author?}
    POST /_sim/history      {phone, chat, messages: [{body, from_me?, t?}]}  older messages
                            (each chat's history: chatlog.py)
    GET  /_sim/activity?phone=&kind=   what the page told the server (reaction, revoke, seen,
                                       chatstate, query) or asked of it (earlier: a batch of
                                       history, its "count"), each with "at" (monotonic seconds)
    GET  /_sim/media?direct_path=      the bytes of a sent or received file
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from aiohttp import web

from . import chatlog, directory
from .chatlog import MEDIA_FIELDS
from .controls import control_route
from .hub import ControlError, Hub, PageClient, new_message_id
from .mms import add_mms_routes, media_response

__all__ = ["MEDIA_FIELDS", "RPCS", "add_routes", "answer"]

#: Page requests answered here.
RPCS = frozenset({"activity", "earlier", "profile_pic"})


def _chat_id(hub: Hub, client: PageClient, chat: str) -> str:
    """A chat id as the page knows it: 2026 private chats are LID chats (§10.4)."""
    if client.build == "2026" and chat.endswith("@c.us"):
        return directory.lid_for(hub, chat.split("@", 1)[0]) + "@lid"
    return chat


def answer(hub: Hub, client: PageClient, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The reply to one page request of RPCS."""
    if kind == "activity":
        client.activity.append({k: v for k, v in data.items() if k not in ("type", "req_id")}
                               | {"kind": data.get("kind"), "at": time.monotonic()})
        return {}
    if kind == "earlier":
        before, before_t = data.get("before"), data.get("before_t")
        batch = chatlog.earlier(hub, client, str(data.get("chat")), str(before) if before else None,
                                int(before_t) if isinstance(before_t, int) else None)
        client.activity.append({"kind": "earlier", "chat": data.get("chat"), "before": before,
                                "count": len(batch), "at": time.monotonic()})
        return {"messages": batch}
    wid = str(data.get("id"))
    user, _, server = wid.partition("@")
    exists = server == "g.us" or directory.answer(hub, "query_exists", {"id": wid}).get("exists")
    if not exists or user in hub.config.not_on_whatsapp:
        return {"eurl": None}
    tag = hashlib.sha256(wid.encode()).hexdigest()[:20]
    return {"eurl": f"https://pps.whatsapp.net/v/t61.24694-24/{tag}_n.jpg?ccb=11-4&oh=01_{tag}", "tag": tag}


def _client(hub: Hub, body: dict[str, Any]) -> PageClient:
    return hub.resolve({k: body.get(k) for k in ("client_id", "phone")})


def _member(hub: Hub, value: Any) -> dict[str, Any]:
    item = value if isinstance(value, dict) else {"phone": value}
    phone = "".join(ch for ch in str(item.get("phone") or "") if ch.isdigit())
    if not 6 <= len(phone) <= 15:
        raise ControlError(400, "participants are phone numbers (6-15 digits)")
    return {"phone": phone, "lid": directory.lid_for(hub, phone), "admin": item.get("admin"),
            "share_phone": item.get("share_phone", True) is not False}


async def reaction(hub: Hub, body: dict[str, Any]) -> Any:
    """A contact reacts to a message of the page (by id; "" removes its reaction)."""
    client = _client(hub, body)
    sender = body.get("sender")
    if sender and client.build == "2026" and str(sender).endswith("@c.us"):
        sender = directory.lid_for(hub, str(sender).split("@", 1)[0]) + "@lid"
    return await hub.command(client, "reaction", message_id=str(body.get("message_id")),
                             emoji=str(body.get("emoji") or ""), sender=sender,
                             id=new_message_id(), t=int(time.time()))


async def revoke(hub: Hub, body: dict[str, Any]) -> Any:
    """A contact deletes one of its messages for everyone."""
    return await hub.command(_client(hub, body), "revoke", message_id=str(body.get("message_id")))


async def edit(hub: Hub, body: dict[str, Any]) -> Any:
    """A contact edits one of its messages (a media message: its caption)."""
    if not isinstance(body.get("body"), str):
        raise ControlError(400, "body must be a string")
    return await hub.command(_client(hub, body), "edit", message_id=str(body.get("message_id")),
                             body=body["body"], id=new_message_id())


async def group(hub: Hub, body: dict[str, Any]) -> Any:
    """The page's account is in group ``id``, with ``participants`` (the first is the owner)."""
    client = _client(hub, body)
    gid = str(body.get("id") or "")
    if not gid.endswith("@g.us"):
        raise ControlError(400, "id must be ...@g.us")
    members = [_member(hub, p) for p in body.get("participants") or []]
    if not members:
        raise ControlError(400, "a group needs participants")
    members[0]["admin"] = members[0]["admin"] or "superadmin"
    return await hub.command(client, "group", id=gid, subject=str(body.get("subject") or gid),
                             participants=members, owner=members[0]["phone"] + "@c.us",
                             is_lid=directory.group_is_lid(hub, gid), t=int(time.time()),
                             description=body.get("description"))


async def group_event(hub: Hub, body: dict[str, Any]) -> Any:
    """Participants join (add, invite) or leave (remove, leave) group ``group_id``."""
    if body.get("subtype") not in ("add", "invite", "remove", "leave"):
        raise ControlError(400, "subtype must be add, invite, remove or leave")
    author = _member(hub, body["author"]) if body.get("author") else None
    return await hub.command(_client(hub, body), "group_event", group_id=str(body.get("group_id")),
                             subtype=body["subtype"], author=author, message_id=new_message_id(),
                             participants=[_member(hub, p) for p in body.get("participants") or []],
                             t=int(time.time()))


async def history(hub: Hub, body: dict[str, Any]) -> Any:
    """Older messages of a chat (oldest first), before all it has: the page loads them back
    (chatlog.py)."""
    client = _client(hub, body)
    chat = _chat_id(hub, client, str(body.get("chat") or ""))
    start = int(time.time()) - 86400
    items = [{"id": new_message_id(), "body": str(m.get("body", "")), "from_me": bool(m.get("from_me")),
              "t": int(m.get("t") or start + i), "type": "chat"} for i, m in enumerate(body.get("messages") or [])]
    chatlog.seed(hub, client, chat, items)
    return {"chat": chat, "ids": [m["id"] for m in items]}


def add_routes(app: web.Application, key: web.AppKey[Hub]) -> None:
    """Mount this module's controls and the media servers on `app` (the hub at app[key])."""

    async def activity(request: web.Request) -> web.StreamResponse:
        try:
            client = _client(request.app[key], dict(request.query))
        except ControlError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        kind = request.query.get("kind")
        return web.json_response([a for a in client.activity if kind in (None, a["kind"])])

    async def media(request: web.Request) -> web.StreamResponse:
        return media_response(request.app[key], request.query.get("direct_path", ""))

    app.router.add_get("/_sim/activity", activity)
    app.router.add_get("/_sim/media", media)
    for path, handler in [("reaction", reaction), ("revoke", revoke), ("edit", edit), ("group", group),
                          ("group-event", group_event), ("history", history)]:
        app.router.add_post(f"/_sim/{path}", control_route(key, handler))
    add_mms_routes(app, key)
