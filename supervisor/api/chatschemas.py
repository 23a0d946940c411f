"""The answers of the chat, contact and group routes (api/chats.py), as the page script gives
them (worker/drivers/wa_inject.js: chatInfo, message, contacts, groupInfo, …), each with the
``session`` the supervisor adds. Keys that WhatsApp may not know are nullable."""

from __future__ import annotations

from supervisor.api.schemas import BOOL, INT, NUM, STR, Schema, array, nullable, obj

__all__ = ["CHAT_MESSAGES", "CHATS", "CHECK", "CONTACTS", "DONE", "GROUP", "GROUPS", "PICTURE"]

_KIND = {"type": "string", "enum": ["private", "group", "newsletter", "broadcast", "status"]}


def _answer(properties: Schema) -> Schema:
    return obj({**properties, "session": STR})


_CHAT: Schema = obj({"id": STR, "name": nullable(STR), "kind": _KIND, "unread": INT,
                     "timestamp": nullable(NUM), "archived": BOOL})
_MESSAGE: Schema = obj({
    "id": STR, "from": nullable(STR), "to": nullable(STR), "chat_id": STR, "body": STR,
    "msg_type": nullable(STR), "timestamp": nullable(NUM), "from_me": BOOL, "author": nullable(STR),
    "sender_id": nullable(STR), "sender_phone": nullable(STR), "kind": _KIND,
    "notify_name": nullable(STR), "has_media": BOOL, "mimetype": nullable(STR),
    "filename": nullable(STR), "size": nullable(NUM), "caption": nullable(STR),
    "quoted_id": nullable(STR), "mentions": array(STR),
}, required=["id", "chat_id", "body", "from_me", "has_media"])
_ONE_CHECK: Schema = obj({"phone": STR, "on_whatsapp": BOOL, "chat_id": nullable(STR),
                          "lid": nullable(STR)})

#: A change that WhatsApp took (a reaction, a revoke, a read receipt, a presence).
DONE: Schema = _answer({})
CHATS: Schema = _answer({"chats": array(_CHAT)})
CHAT_MESSAGES: Schema = _answer({
    "messages": array(_MESSAGE), "more": BOOL,
    "next_before": {**nullable(STR), "description": "pass as before for the page before"}})
CONTACTS: Schema = _answer({"contacts": array(obj({
    "id": STR, "name": nullable(STR), "pushname": nullable(STR), "phone": nullable(STR),
    "lid": nullable(STR)}))})
PICTURE: Schema = _answer({"id": STR, "url": {**nullable(STR), "description": "null: none, or hidden"}})
GROUPS: Schema = _answer({"groups": array({**_CHAT, "properties": {
    **_CHAT["properties"], "size": nullable(INT)}})})
GROUP: Schema = _answer({
    "id": STR, "name": nullable(STR), "owner": nullable(STR), "created": nullable(NUM),
    "description": nullable(STR), "lid_addressing": BOOL,
    "participants": array(obj({"id": STR, "phone": nullable(STR), "admin": {
        "type": ["string", "null"], "enum": ["superadmin", "admin", None]}}))})
#: One number (``phone``): its answer; several: ``{"results": [...]}``.
CHECK: Schema = {"oneOf": [
    {**_ONE_CHECK, "properties": {**_ONE_CHECK["properties"], "session": STR},
     "required": [*_ONE_CHECK["required"], "session"]},
    _answer({"results": array(_ONE_CHECK)})]}
