"""Chats, contacts and groups of a session, seen from the supervisor: reactions, revokes, read
receipts, chat states, number checks, lists and histories. Each validates its arguments (a
bad one is InvalidRequest), then asks the worker with one operation (a session that is not
WORKING is a Conflict naming its state).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping
from typing import Any

from supervisor.errors import InvalidRequest
from supervisor.sessions.messaging import call_worker, chat_id, message_id, phone_digits
from supervisor.sessions.session import Session
from supervisor.states import State
from worker import protocol

__all__ = [
    "chat_messages", "check_numbers", "contacts", "group_info", "groups", "list_chats",
    "mark_read", "presence", "profile_picture", "react", "revoke",
]

_MARGIN_S = 5.0  # the worker's own timeout fires first and says what happened
_MAX_EMOJI_CHARS = 16  # one emoji, with its modifiers and joiners


async def _ask(session: Session, op: str, args: Mapping[str, object], extra_s: float = 0.0) -> dict[str, Any]:
    timeout = session.ctx.config.whatsapp.send_timeout_s + _MARGIN_S + extra_s
    return {**await call_worker(session, State.WORKING, op, args, timeout), "session": session.id}


def _limit(value: object, default: int, high: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise InvalidRequest(f"limit must be an integer from 1 to {high}, got {value!r}")
    return value


async def react(session: Session, message: object, emoji: object) -> dict[str, Any]:
    """React to a message with ``emoji`` ("" removes our reaction)."""
    if not isinstance(emoji, str) or len(emoji) > _MAX_EMOJI_CHARS or emoji.strip() != emoji:
        raise InvalidRequest("emoji must be one emoji, or \"\" to remove the reaction")
    result = await _ask(session, protocol.OP_REACT, protocol.ReactArgs(id=message_id(message), emoji=emoji))
    return {**result, "emoji": emoji}


async def revoke(session: Session, message: object) -> dict[str, Any]:
    """Delete one of our own messages for everyone."""
    return {**await _ask(session, protocol.OP_REVOKE, protocol.MessageArgs(id=message_id(message))), "revoked": True}


async def mark_read(session: Session, chat: object) -> dict[str, Any]:
    """Mark a chat read (blue ticks for its sender)."""
    return await _ask(session, protocol.OP_MARK_READ, protocol.ChatArgs(chat=chat_id(chat, "chat")))


async def presence(session: Session, chat: object, state: object, duration_s: object = None) -> dict[str, Any]:
    """Show typing or recording in a chat for ``duration_s`` (default 10 s, then paused), or
    paused now."""
    if state not in set(protocol.PresenceState):
        raise InvalidRequest(f"state must be one of {', '.join(protocol.PresenceState)}, got {state!r}")
    duration = 10.0 if duration_s is None else duration_s
    if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 <= duration <= 300:
        raise InvalidRequest("duration_s must be a number of seconds from 0 to 300")
    args = protocol.PresenceArgs(chat=chat_id(chat, "chat"), state=str(state), duration_s=duration)
    return await _ask(session, protocol.OP_PRESENCE, args)


class _Pacer:
    """One session's number look-ups, one at a time and ``check_interval_s`` apart, across
    every request (two batches at once must not double the rate)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last = -float("inf")  # monotonic time of the last look-up


_PACERS: weakref.WeakKeyDictionary[Session, _Pacer] = weakref.WeakKeyDictionary()


async def _check_one(session: Session, phone: str, interval_s: float) -> dict[str, Any]:
    pacer = _PACERS.setdefault(session, _Pacer())
    async with pacer.lock:
        await asyncio.sleep(max(0.0, pacer.last + interval_s - time.monotonic()))
        try:
            return await _ask(session, protocol.OP_CHECK_NUMBER, protocol.CheckNumberArgs(phone=phone))
        finally:
            pacer.last = time.monotonic()


async def check_numbers(session: Session, phones: list[object]) -> dict[str, Any]:
    """Whether each phone number is on WhatsApp (its chat id, its LID): one at a time,
    ``[media] check_interval_s`` apart, over all requests to this session (bulk look-ups get
    accounts banned)."""
    config = session.ctx.config.media
    if not phones:
        raise InvalidRequest("give at least one phone number")
    if len(phones) > config.check_batch_max:
        raise InvalidRequest(f"at most {config.check_batch_max} numbers per check ([media] "
                             f"check_batch_max), got {len(phones)}")
    digits = [phone_digits(p) for p in phones]
    results = []
    for phone in digits:
        answer = await _check_one(session, phone, config.check_interval_s)
        results.append({k: answer.get(k) for k in ("phone", "on_whatsapp", "chat_id", "lid")})
    return {"session": session.id, "results": results}


async def list_chats(session: Session, limit: object = None) -> dict[str, Any]:
    """The chats, latest first: id, name, kind, unread count, last message time."""
    return await _ask(session, protocol.OP_LIST_CHATS, protocol.ListChatsArgs(limit=_limit(limit, 100, 1000)))


async def chat_messages(session: Session, chat: object, limit: object = None,
                        before: object = None) -> dict[str, Any]:
    """Up to ``limit`` messages of a chat before message ``before`` (default: the latest),
    oldest first; ``more`` says whether older ones may exist (ask again with the first id)."""
    args = protocol.ChatMessagesArgs(chat=chat_id(chat, "chat"), limit=_limit(limit, 50, 500))
    if before is not None:
        args["before"] = message_id(before, "before")
    result = await _ask(session, protocol.OP_CHAT_MESSAGES, args, extra_s=session.ctx.config.whatsapp.send_timeout_s)
    messages = result.get("messages") or []
    return {**result, "next_before": messages[0]["id"] if messages and result.get("more") else None}


async def contacts(session: Session) -> dict[str, Any]:
    """The address book: id, name, phone, LID."""
    return await _ask(session, protocol.OP_LIST_CONTACTS, protocol.NoArgs())


async def profile_picture(session: Session, target: object) -> dict[str, Any]:
    """A contact's or a group's profile picture URL (None: none, or hidden by privacy)."""
    return await _ask(session, protocol.OP_PROFILE_PICTURE, protocol.ContactArgs(id=chat_id(target, "id")))


async def groups(session: Session) -> dict[str, Any]:
    """The groups the account is in."""
    return await _ask(session, protocol.OP_LIST_GROUPS, protocol.NoArgs())


async def group_info(session: Session, group: object) -> dict[str, Any]:
    """One group's metadata and participants (phone numbers where WhatsApp shares them)."""
    gid = chat_id(group, "group id")
    if not gid.endswith("@g.us"):
        raise InvalidRequest(f"{gid} is not a group id (…@g.us)")
    return await _ask(session, protocol.OP_GROUP_INFO, protocol.ContactArgs(id=gid))
