"""WhatsApp operations of a session, seen from the supervisor: recipients, texts, and the worker
requests behind send, pairing code and logout. The API and the role router call these.

Recipients may be a phone number in any common spelling (``+244 929-782-402``, ``00244…``,
``(244) 929 782 402``) or a chat id (``…@c.us``, ``…@g.us``, ``…@lid``; ``…@s.whatsapp.net`` is
read as ``…@c.us``). Everything else is a 400 that says what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from supervisor.errors import Conflict, InvalidRequest
from supervisor.sessions.session import Session
from supervisor.settings import WhatsAppConfig
from supervisor.states import State
from worker import protocol

__all__ = [
    "call_worker",
    "chat_id",
    "check_text",
    "logout",
    "message_id",
    "pairing_code",
    "reply_fields",
    "phone_digits",
    "text_send",
]

_SEPARATORS = re.compile(r"[\s().\-/]+")
_CHAT_ID = re.compile(r"^(?:\d{5,20}@c\.us|\d{5,20}(?:-\d{1,15})?@g\.us|\d{5,20}@lid)$")
_MESSAGE_ID = re.compile(r"(?:true|false)_[0-9A-Za-z.:-]{1,40}@[a-z.]{1,20}_[0-9A-Za-z]{1,64}"
                         r"(?:_[0-9A-Za-z.:-]{1,40}@[a-z.]{1,20})?")
_REQUEST_MARGIN_S = 5.0  # the worker's own timeout fires first and says what happened


def phone_digits(value: object, field: str = "phone") -> str:
    """An international phone number as digits only; InvalidRequest if it is not one."""
    if isinstance(value, str):
        text = _SEPARATORS.sub("", value.strip())
        if text.startswith("+"):
            text = text[1:]
        elif text.startswith("00"):
            text = text[2:]
        # E.164: at most 15 digits; 7 is the shortest international number in use.
        if text.isdigit() and text.isascii() and 7 <= len(text) <= 15 and not text.startswith("0"):
            return text
    raise InvalidRequest(f"{field} {value!r} is not a phone number: give it in international format "
                         "with its country code, e.g. +244 929 782 402")


def chat_id(value: object, field: str = "to") -> str:
    """The chat id for a recipient (phone number or chat id); InvalidRequest otherwise."""
    if isinstance(value, str) and "@" in value:
        text = value.strip().replace("@s.whatsapp.net", "@c.us")
        if _CHAT_ID.fullmatch(text):
            return text
        raise InvalidRequest(f"{field} {value!r} is not a chat id: use <digits>@c.us for a person, "
                             "<digits>@g.us for a group, or a phone number")
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a phone number or a chat id, got {value!r}")
    return phone_digits(value, field) + "@c.us"


def check_text(value: object, max_chars: int, field: str = "text") -> str:
    """A message text that WhatsApp accepts; InvalidRequest if empty, blank or too long."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string")
    if not value.strip():
        raise InvalidRequest(f"{field} must not be empty")
    if len(value) > max_chars:
        raise InvalidRequest(f"{field} has {len(value)} characters; at most {max_chars} are "
                             "allowed ([whatsapp] max_text_chars)")
    return value


async def call_worker(session: Session, needs: State, op: str, args: Mapping[str, object],
                      timeout_s: float) -> dict[str, Any]:
    """The worker's answer to ``op`` (``args``: its protocol TypedDict); Conflict naming the
    state unless the session is ``needs``."""
    worker = session.worker
    if session.state != needs or worker is None:
        raise Conflict(f"session {session.id!r} is {session.state}; {op} needs it {needs}")
    return await worker.request(op, dict(args), timeout_s)


def message_id(value: object, field: str = "message id") -> str:
    """A WhatsApp message id as events carry it (``true_<chat>_<id>[_<participant>]``)."""
    if isinstance(value, str) and _MESSAGE_ID.fullmatch(value):
        return value
    raise InvalidRequest(f"{field} {str(value)[:80]!r} is not a message id: use the id of a "
                         "message event or a send result (true_…@c.us_3EB0…)")


def reply_fields(reply_to: object = None, mentions: object = None) -> dict[str, Any]:
    """``reply_to`` (a message id) and ``mentions`` (user ids or phone numbers) for a send."""
    out: dict[str, Any] = {}
    if reply_to is not None:
        out["reply_to"] = message_id(reply_to, "reply_to")
    if mentions is not None:
        if not isinstance(mentions, list) or len(mentions) > 256:
            raise InvalidRequest("mentions must be a list of at most 256 user ids or phone numbers")
        out["mentions"] = [chat_id(m, "mentions") for m in mentions]
    return out


def text_send(config: WhatsAppConfig, to: object, text: object, reply_to: object = None,
              mentions: object = None) -> tuple[str, dict[str, Any]]:
    """A text send checked for the queue: its chat and payload ({"text", "reply_to"?,
    "mentions"?}); InvalidRequest naming what is wrong."""
    recipient = chat_id(to)
    return recipient, {"text": check_text(text, config.max_text_chars), **reply_fields(reply_to, mentions)}


async def pairing_code(session: Session, phone: object) -> dict[str, Any]:
    """Ask the page for a code to type on the phone ``phone`` instead of scanning the QR."""
    digits = phone_digits(phone)
    timeout = session.ctx.config.whatsapp.send_timeout_s + _REQUEST_MARGIN_S
    result = await call_worker(session, State.SCAN_QR_CODE, protocol.OP_PAIRING_CODE, {"phone": digits},
                         timeout)
    code = str(result.get("code", "")).replace("-", "")
    return {"code": code, "display": f"{code[:4]}-{code[4:]}", "phone": digits}


async def logout(session: Session) -> dict[str, Any]:
    """Log the account out; answers once the page has (session.logout was published first, and
    the profile cleanup, if configured, follows)."""
    timeout = session.ctx.config.whatsapp.send_timeout_s + _REQUEST_MARGIN_S
    await call_worker(session, State.WORKING, protocol.OP_LOGOUT, {}, timeout)
    cleanup = session.ctx.config.sessions.auto_cleanup_on_logout
    return {"id": session.id, "logged_out": True, "profile_cleanup": cleanup}
