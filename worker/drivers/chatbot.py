"""What a session does with incoming messages: which kinds become events, and the bot commands
(``!ping``, ``!help``, ``!info``) it answers by itself when ``[whatsapp] commands`` enables them.

No WhatsApp internals here: messages arrive already turned into plain dicts by the page script.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from worker import protocol
from worker.drivers.base import Emit
from worker.logs import get_logger
from worker.spec import WhatsAppOptions

__all__ = ["COMMANDS", "BotInfo", "Inbox", "MessagePolicy"]

log = get_logger()

#: Every command the bot knows, with its help line.
COMMANDS = {
    "ping": "answers pong",
    "help": "lists the commands",
    "info": "shows this session's id, number, WhatsApp Web version and uptime",
}


@dataclass(frozen=True)
class BotInfo:
    """What ``!info`` reports."""

    session_id: str
    phone_number: str
    wa_version: str
    started_at: float  # time.monotonic() of the worker's start


class MessagePolicy:
    """Filters and bot commands of one session, as its ``[whatsapp]`` options say."""

    def __init__(self, options: WhatsAppOptions) -> None:
        self._options = options

    def wanted(self, message: dict[str, Any]) -> bool:
        """Whether ``message`` becomes a ``message`` event."""
        ignored = {"group": self._options.ignore_groups, "status": self._options.ignore_status,
                   "newsletter": self._options.ignore_newsletters}
        return not ignored.get(str(message.get("kind")), False)

    def command(self, message: dict[str, Any]) -> str | None:
        """The enabled command ``message`` asks for, if any. Only messages from others, in
        private chats and groups: never our own, a status or a channel post."""
        body, prefix = message.get("body"), self._options.command_prefix
        if message.get("from_me") or message.get("kind") not in ("private", "group"):
            return None
        if not isinstance(body, str) or not body.startswith(prefix):
            return None
        word = body[len(prefix):].strip().split(maxsplit=1)
        name = word[0].lower() if word else ""
        return name if name in self._options.commands else None

    def answer(self, name: str, info: BotInfo) -> str:
        """The reply to the command ``name``."""
        if name == "ping":
            return "pong"
        if name == "help":
            lines = [f"{self._options.command_prefix}{cmd}: {COMMANDS[cmd]}" for cmd in self._options.commands]
            return "Commands:\n" + "\n".join(lines)
        uptime = int(time.monotonic() - info.started_at)
        return (f"zapvisor session {info.session_id}\nnumber: +{info.phone_number}\n"
                f"WhatsApp Web {info.wa_version}\nup {uptime // 3600}h{uptime % 3600 // 60:02d}m"
                f"{uptime % 60:02d}s")


class Inbox:
    """Turns the page's new messages into ``message`` events and answers bot commands."""

    def __init__(self, policy: MessagePolicy, emit: Emit,
                 send: Callable[[str, str], Awaitable[Any]]) -> None:
        self._policy = policy
        self._emit = emit
        self._send = send

    async def receive(self, message: dict[str, Any], info: BotInfo | None,
                      replies: asyncio.TaskGroup) -> None:
        """One message from the page script; a command's answer (if any, and if logged in:
        ``info``) is sent from a task of ``replies``."""
        payload = {k: v for k, v in message.items() if k not in ("gen", "type", "msg_type")}
        payload["type"] = message.get("msg_type")  # chat, image, ... ("type" names the page event)
        if not self._policy.wanted(payload):
            return
        await self._emit(protocol.EV_MESSAGE, payload)
        command = self._policy.command(payload)
        if command and info is not None:
            replies.create_task(self._reply(str(payload["chat_id"]), self._policy.answer(command, info)))

    async def _reply(self, chat_id: str, text: str) -> None:
        try:
            await self._send(chat_id, text)
        except Exception as exc:  # a lost bot answer must not end the session
            log.warning("bot.reply_failed", error=repr(exc))
