"""Incoming messages as WhatsApp's servers deliver them to a page (the /_sim/incoming control).

Both builds: text (``type`` "chat") and media. For media (image, video, document) WhatsApp
Web's message model keeps a base64 JPEG thumbnail in ``body`` and the text in ``caption``,
with ``mimetype``, ``filename`` (documents), ``size`` and ``directPath`` (whatsapp-web.js
``src/structures/Message.js``: ``hasMedia = Boolean(data.directPath)``, body = caption when
it has media; ``downloadMedia`` reads mimetype/filename/size). The page draws the thumbnail.

2026 build only (research/whatsapp-anchors.md §10.4): one-to-one chats are LID chats after
the LID migration, so a private message named with a phone number (``…@c.us``) arrives from
the sender's ``…@lid`` chat; the page learns the phone number with it (``sender_phone``,
readable via ``WAWebApiContact.getPhoneNumber``). In LID-addressed groups the author is a LID
too; its phone number is shared only when the test names it (``author`` as ``…@c.us`` or
``author_phone``), as LID groups hide members' numbers.
"""

from __future__ import annotations

import time
from typing import Any

from . import directory, mms
from .hub import ControlError, Hub, PageClient, new_message_id

__all__ = ["MEDIA_TYPES", "incoming_args"]

#: Media types and their default mimetype.
MEDIA_TYPES = {"image": "image/jpeg", "video": "video/mp4", "document": "application/pdf",
               "audio": "audio/mpeg", "ptt": "audio/ogg; codecs=opus", "sticker": "image/webp"}
_USER_ID = ("@c.us", "@lid")


def _route(body: dict[str, Any]) -> dict[str, Any]:
    """Validate the addressing (as the 2024 build always did): from, kind, author."""
    sender = str(body.get("from") or "")
    kind = body.get("kind") or (
        "group" if sender.endswith("@g.us") else "newsletter" if sender.endswith("@newsletter")
        else "status" if sender == "status@broadcast" else "private")
    author = body.get("author")
    if kind == "private" and not sender.endswith(_USER_ID):
        raise ControlError(400, "private messages come from ...@c.us or ...@lid")
    if kind == "group" and not (sender.endswith("@g.us") and str(author or "").endswith(_USER_ID)):
        raise ControlError(400, "group messages need from ...@g.us and author ...@c.us")
    if kind == "status":
        author = author or (sender if sender.endswith(_USER_ID) else None)
        if not str(author or "").endswith(_USER_ID):
            raise ControlError(400, "status messages need the poster as author (or from)")
        sender = "status@broadcast"
    if kind == "newsletter" and not sender.endswith("@newsletter"):
        raise ControlError(400, "newsletter messages come from ...@newsletter")
    if kind not in ("private", "group", "status", "newsletter"):
        raise ControlError(400, "kind must be private, group, status or newsletter")
    return {"from": sender, "kind": kind, "author": author}


def _content(hub: Hub, body: dict[str, Any]) -> dict[str, Any]:
    """Text, or media fields with defaults (thumbnail drawn by the page). Media bytes (``data``,
    base64; else ``size`` random bytes) go to the media server, under the message's directPath."""
    kind = body.get("type") or "chat"
    if kind == "chat":
        if not isinstance(body.get("body"), str):
            raise ControlError(400, "body must be a string")
        return {"type": "chat", "body": body["body"]}
    if kind not in MEDIA_TYPES:
        raise ControlError(400, f"type must be chat or one of {', '.join(MEDIA_TYPES)}")
    if body.get("body") is not None:
        raise ControlError(400, "media messages carry their text in caption, not body")
    caption = body.get("caption")
    if caption is not None and not isinstance(caption, str):
        raise ControlError(400, "caption must be a string")
    size = body.get("size", 48213)
    if not isinstance(size, int) or size <= 0:
        raise ControlError(400, "size must be a positive integer (bytes)")
    data = mms.media_bytes(body.get("data"), size)
    mimetype = str(body.get("mimetype") or MEDIA_TYPES[kind])
    media: dict[str, Any] = {"type": kind, "caption": caption, "size": len(data), "mimetype": mimetype,
                             "direct_path": mms.store_media(hub, data, mimetype)}
    if kind == "document":
        media["filename"] = str(body.get("filename") or "document.pdf")
    return media


def _lid_addressing(hub: Hub, args: dict[str, Any], body: dict[str, Any]) -> None:
    """2026: turn phone-number ids into LIDs the way WhatsApp delivers them (see module doc)."""
    sender, author = args["from"], args["author"]
    if args["kind"] == "private":
        if sender.endswith("@c.us"):
            phone = sender.split("@", 1)[0]
            args["from"] = directory.lid_for(hub, phone) + "@lid"
            args["sender_phone"] = phone
        else:
            given = body.get("sender_phone")
            if given:
                directory.bind(hub, sender, str(given))
            args["sender_phone"] = directory.phone_for(hub, sender)
    elif args["kind"] == "group":
        args["group_is_lid"] = directory.group_is_lid(hub, sender)
        if args["group_is_lid"] and str(author).endswith("@c.us"):
            phone = str(author).split("@", 1)[0]
            args["author"] = directory.lid_for(hub, phone) + "@lid"
            args["author_phone"] = phone
        elif body.get("author_phone"):
            args["author_phone"] = "".join(ch for ch in str(body["author_phone"]) if ch.isdigit())


def incoming_args(hub: Hub, client: PageClient, body: dict[str, Any]) -> dict[str, Any]:
    """The `incoming` command for `client`'s page, validated, with the build's addressing."""
    args = _route(body)
    content = _content(hub, body)
    if client.build == "2026":
        _lid_addressing(hub, args, body)
    content["msg_type"] = content.pop("type")  # "type" is the channel's own message field
    mentions = body.get("mentions") or []
    if not isinstance(mentions, list):
        raise ControlError(400, "mentions must be a list of ids")
    return {**args, **content, "pushname": body.get("pushname"), "quoted_id": body.get("quoted_id"),
            "mentions": [str(m) for m in mentions],
            "id": str(body.get("id") or new_message_id()), "t": int(body.get("t") or time.time())}
