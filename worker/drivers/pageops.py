"""The messaging operations of a logged-in page (protocol.MESSAGING_OPS), and the page's
messaging events turned into the worker's.

No WhatsApp internals here: each operation is one call of the page script (wa_inject.js),
whose answer is either the result or ``{"error": {type, message}}``. Media moves through
:mod:`worker.drivers.mediapipe`. Sends go through the driver's own send function, so every
send (text, media, API, bot) is reported as ``message.sent`` the same way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from worker import protocol
from worker.drivers import mediapipe
from worker.drivers.base import OperationRefused
from worker.drivers.scriptedpage import ScriptedPage
from worker.logs import get_logger
from worker.spec import WhatsAppOptions

__all__ = ["MSG_ID", "PageOps", "msg_id", "page_event", "queue_fields", "send_options"]

log = get_logger()

#: Sends one message: (page function, recipient, payload, options for the page, what to report).
Send = Callable[[str, str, Any, dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]
_GROUP_EVENTS = {"add": protocol.EV_GROUP_JOIN, "invite": protocol.EV_GROUP_JOIN,
                 "linked_group_join": protocol.EV_GROUP_JOIN, "remove": protocol.EV_GROUP_LEAVE,
                 "leave": protocol.EV_GROUP_LEAVE}
_PAGE_EVENTS = {"reaction": protocol.EV_MESSAGE_REACTION, "revoked": protocol.EV_MESSAGE_REVOKED,
                "edited": protocol.EV_MESSAGE_EDITED}
#: What WAWebMsgKey.newId() makes: uppercase hex ("3EB0" and 16-18 digits on WhatsApp Web, 32 on
#: phones); letters and digits, bounded, leave room for a new build. Never a "_" (it splits a key).
MSG_ID = re.compile(r"[0-9A-Z]{8,64}")


def page_event(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The worker event for a page event of the messaging kinds, or None (not one of them, or a
    group change other than a join or a leave)."""
    kind = str(event.get("type"))
    data = {k: v for k, v in event.items() if k not in ("type", "gen")}
    if kind in _PAGE_EVENTS:
        return _PAGE_EVENTS[kind], data
    if kind == "group":
        subtype = str(data.pop("subtype", ""))
        name = _GROUP_EVENTS.get(subtype)
        return None if name is None else (name, {**data, "how": subtype})
    return None


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value:
        raise OperationRefused(protocol.ErrorType.INVALID_REQUEST, f"{key} must be a non-empty string")
    return value


def _int(args: dict[str, Any], key: str, default: int) -> int:
    value = args.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise OperationRefused(protocol.ErrorType.INVALID_REQUEST, f"{key} must be a whole number >= 0")
    return value


def msg_id(args: dict[str, Any]) -> str:
    """``args["msg_id"]``, shaped like an id of OP_NEW_MESSAGE_ID; InvalidRequest otherwise."""
    value = args.get("msg_id")
    if not isinstance(value, str) or not MSG_ID.fullmatch(value):
        raise OperationRefused(protocol.ErrorType.INVALID_REQUEST,
                               f"msg_id must be 8 to 64 uppercase letters and digits, as "
                               f"{protocol.OP_NEW_MESSAGE_ID} makes them, got {value!r:.80}")
    return value


def send_options(args: dict[str, Any]) -> dict[str, Any]:
    """What a send passes to the page besides its content: reply_to, mentions and msg_id."""
    mentions = args.get("mentions") or []
    if not isinstance(mentions, list) or not all(isinstance(m, str) for m in mentions):
        raise OperationRefused(protocol.ErrorType.INVALID_REQUEST, "mentions must be a list of ids")
    options: dict[str, Any] = {"reply_to": args.get("reply_to") or None, "mentions": mentions}
    if args.get("msg_id") is not None:
        options["msg_id"] = msg_id(args)
    return options


def queue_fields(args: dict[str, Any]) -> dict[str, Any]:
    """``{"queue_id": n}`` for a send of the send queue (echoed in its EV_MESSAGE_SENT), or {}."""
    if args.get("queue_id") is None:
        return {}
    value = args["queue_id"]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise OperationRefused(protocol.ErrorType.INVALID_REQUEST, "queue_id must be a whole number >= 0")
    return {"queue_id": value}


class PageOps:
    """Carries out MESSAGING_OPS on the driver's page; ``page()`` raises unless logged in."""

    def __init__(self, page: Callable[[], ScriptedPage], options: WhatsAppOptions, tmp_dir: str,
                 send: Send, tasks: Callable[[], asyncio.TaskGroup]) -> None:
        self._page, self._opts, self._tmp_dir = page, options, tmp_dir
        self._send, self._tasks = send, tasks
        self._pauses: dict[str, asyncio.Task[None]] = {}  # chat -> its pending "paused"

    async def request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """One of protocol.MESSAGING_OPS; OperationRefused for bad arguments or WhatsApp's no."""
        problem = protocol.args_problem(op, args)  # the keys of its protocol TypedDict, no others
        if problem is not None:
            raise OperationRefused(protocol.ErrorType.INVALID_REQUEST, problem)
        wa = self._page()
        if op == protocol.OP_SEND_MEDIA:
            return await self._send_media(wa, args)
        if op == protocol.OP_DOWNLOAD_MEDIA:
            path = mediapipe.scratch_path(self._tmp_dir, args.get("path"))
            return await mediapipe.pull(wa, _text(args, "id"), path, _int(args, "max_bytes", 0),
                                        self._opts.send_timeout_s)
        if op == protocol.OP_PRESENCE:
            return await self._presence(wa, args)
        call: tuple[Any, ...] = {
            protocol.OP_NEW_MESSAGE_ID: lambda: ("newMessageId",),
            protocol.OP_FIND_SENT: lambda: ("findSent", _text(args, "to"), msg_id(args)),
            protocol.OP_REACT: lambda: ("react", _text(args, "id"), str(args.get("emoji") or "")),
            protocol.OP_REVOKE: lambda: ("revoke", _text(args, "id")),
            protocol.OP_MARK_READ: lambda: ("markRead", _text(args, "chat")),
            protocol.OP_CHECK_NUMBER: lambda: ("checkNumber", _text(args, "phone")),
            protocol.OP_LIST_CHATS: lambda: ("chats", _int(args, "limit", 100)),
            protocol.OP_CHAT_MESSAGES: lambda: ("chatMessages", _text(args, "chat"),
                                                _int(args, "limit", 50), args.get("before") or None),
            protocol.OP_LIST_CONTACTS: lambda: ("contacts",),
            protocol.OP_PROFILE_PICTURE: lambda: ("profilePicture", _text(args, "id")),
            protocol.OP_LIST_GROUPS: lambda: ("groups",),
            protocol.OP_GROUP_INFO: lambda: ("groupInfo", _text(args, "id")),
        }[op]()
        result: dict[str, Any] = await wa.call(*call, timeout_s=self._opts.send_timeout_s)
        mediapipe.refusal(result)
        if op == protocol.OP_NEW_MESSAGE_ID and not MSG_ID.fullmatch(str(result.get("msg_id"))):
            # A build whose ids the sends would refuse: say so now, not at the send.
            raise OperationRefused(protocol.ErrorType.UNAVAILABLE,
                                   f"WhatsApp Web made a message id of a new shape: {result.get('msg_id')!r:.80}")
        for item in result.get("messages", []):  # shaped like message events
            item["type"] = item.pop("msg_type", None)
        return result

    async def _send_media(self, wa: ScriptedPage, args: dict[str, Any]) -> dict[str, Any]:
        path = mediapipe.scratch_path(self._tmp_dir, args.get("path"))
        kind = _text(args, "kind")
        if kind not in set(protocol.MediaKind):
            raise OperationRefused(protocol.ErrorType.INVALID_REQUEST, f"unknown media kind {kind!r}")
        # Every argument checked before the upload: a refusal leaves nothing staged on the page.
        to, mimetype = _text(args, "to"), _text(args, "mimetype")
        options, queued = send_options(args), queue_fields(args)
        upload = await mediapipe.push(wa, path)
        spec = {"upload": upload, "kind": kind, "mimetype": mimetype,
                "filename": str(args.get("filename") or ""), "caption": str(args.get("caption") or "")}
        report = {"type": kind, "mimetype": mimetype, "filename": spec["filename"] or None,
                  "size": path.stat().st_size, "body": spec["caption"], **queued}
        return await self._send("sendMedia", to, spec, options, report)

    async def _presence(self, wa: ScriptedPage, args: dict[str, Any]) -> dict[str, Any]:
        chat, state = _text(args, "chat"), _text(args, "state")
        if state not in set(protocol.PresenceState):
            raise OperationRefused(protocol.ErrorType.INVALID_REQUEST,
                                   f"state must be one of {', '.join(protocol.PresenceState)}")
        duration = args.get("duration_s", 0)
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 <= duration <= 300:
            raise OperationRefused(protocol.ErrorType.INVALID_REQUEST, "duration_s must be from 0 to 300")
        pending = self._pauses.pop(chat, None)
        if pending is not None:
            pending.cancel()
        result: dict[str, Any] = await wa.call("presence", chat, state, timeout_s=self._opts.send_timeout_s)
        mediapipe.refusal(result)
        if state != protocol.PresenceState.PAUSED and duration > 0:
            self._pauses[chat] = self._tasks().create_task(self._pause_later(wa, chat, float(duration)))
        return {**result, "duration_s": duration}

    async def _pause_later(self, wa: ScriptedPage, chat: str, after_s: float) -> None:
        """Back to "paused" once the duration is over (a task of the driver's TaskGroup)."""
        try:
            await asyncio.sleep(after_s)
            await wa.call("presence", chat, protocol.PresenceState.PAUSED, timeout_s=self._opts.send_timeout_s)
        except Exception as exc:  # the page went away: the chat state ends with it
            log.info("wa.presence_pause_failed", error=repr(exc))
        finally:
            if self._pauses.get(chat) is asyncio.current_task():
                del self._pauses[chat]
