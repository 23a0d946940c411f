"""Each account's chat history, as the phone and WhatsApp Web's own storage keep it, and the
pages of it a page loads back (``loadEarlierMsgs``; the page side is static/messaging.js).

Public facts modelled:
- History outlives the page. WhatsApp Web keeps chats and messages in IndexedDB, and the phone
  holds the whole history; after a reload the page loads a chat's messages again, batch by
  batch, through ``WAWebChatLoadMessages.loadEarlierMsgs({chat, msgCollection: chat.msgs})``,
  each call the batch before the oldest message the chat's collection holds, until
  ``chat.msgs.msgLoadState.noEarlierMsgs`` (WhatsApp Web's own WAWebOrderFetcher loops on it;
  whatsapp-web.js src/structures/Chat.js fetchMessages prepends each batch to what it has;
  orkestral/venom load-all-earlier-chat-messages.js loops on ``noEarlierMsgs``).
- Our own sends are in it, as ours (``id.fromMe``), under the id they were sent with: a key is
  ``fromMe_remote_id[_participant]`` and WhatsApp never renames a message (wa-js
  src/chat/functions/getMessages.ts pages by such keys; prepareRawMessage.ts sends under a key
  made beforehand, ``options.messageId``). Their ack is the last receipt the server saw.
- The log is the account's (the phone number's), not one browser profile's: a page linked
  again to the same phone sees the same chats (the history sync after linking).

Simplifications: one batch is ``BATCH`` messages; group notifications (``gp2``) and status
posts are not kept; chat ids are those the page uses (2026 private chats are LID chats).
"""

from __future__ import annotations

from typing import Any

from .hub import ControlError, Hub, PageClient

__all__ = ["BATCH", "earlier", "record_incoming", "record_sent", "seed", "set_ack"]

BATCH = 50  # messages per loadEarlierMsgs, as WhatsApp pages history
#: The fields of a media message kept with it (as GET /_sim/sent shows them).
MEDIA_FIELDS = ("direct_path", "mimetype", "filename", "caption", "size")


def _chats(hub: Hub, client: PageClient) -> dict[str, list[dict[str, Any]]] | None:
    """The account's chats (chat id -> its messages, oldest first); None when not paired."""
    return None if client.phone is None else hub.histories.setdefault(client.phone, {})


def _stanza_id(key: str) -> str:
    """The message id inside a serialized key ``fromMe_remote_id[_participant]``."""
    parts = key.split("_")
    return parts[2] if len(parts) >= 3 else key


def record_sent(hub: Hub, client: PageClient, record: dict[str, Any]) -> None:
    """A message the page sent (a GET /_sim/sent record), now in its chat's history."""
    chats = _chats(hub, client)
    if chats is not None:
        chats.setdefault(record["to"], []).append({
            "id": _stanza_id(record["id"]), "from_me": True, "body": record.get("body"), "t": record.get("t"),
            "type": record.get("type", "chat"), "from": record.get("from"), "participant": record.get("participant"),
            "ack": 1, **{k: record[k] for k in MEDIA_FIELDS if k in record}})


def record_incoming(hub: Hub, client: PageClient, args: dict[str, Any]) -> None:
    """A message delivered to the page (the ``incoming`` command's arguments)."""
    chats = _chats(hub, client)
    if chats is None or args.get("kind") not in ("private", "group"):
        return
    chats.setdefault(str(args["from"]), []).append({
        "id": args["id"], "from_me": False, "body": args.get("body"), "t": args["t"],
        "type": args.get("msg_type", "chat"), "author": args.get("author"), "ack": 1,
        **{k: args[k] for k in MEDIA_FIELDS if args.get(k) is not None}})


def seed(hub: Hub, client: PageClient, chat: str, items: list[dict[str, Any]]) -> None:
    """Older messages of ``chat`` (oldest first), before everything the chat has."""
    chats = _chats(hub, client)
    if chats is None:
        raise ControlError(409, "the page is not paired: history belongs to an account")
    chats[chat] = [{**item, "ack": 3 if item.get("from_me") else 1} for item in items] + chats.get(chat, [])


def set_ack(hub: Hub, client: PageClient, key: str, ack: int) -> None:
    """Our message ``key`` got receipt ``ack`` (as the control moved it on the page)."""
    parts = key.split("_")
    for message in (_chats(hub, client) or {}).get(parts[1] if len(parts) >= 3 else "", []):
        if message["from_me"] and message["id"] == parts[2]:
            message["ack"] = ack


def earlier(hub: Hub, client: PageClient, chat: str, before: str | None, before_t: int | None) -> list[dict[str, Any]]:
    """The batch of ``chat`` before message ``before`` (the oldest the page's chat holds; its
    time ``before_t`` places it when the log lacks it), oldest first; all of the latest batch
    when the chat holds nothing yet; [] at the start of the chat."""
    messages = (_chats(hub, client) or {}).get(chat, [])
    ids = [m["id"] for m in messages]
    if before is None:
        end = len(messages)
    elif before in ids:
        end = ids.index(before)
    else:
        end = sum(1 for m in messages if (m.get("t") or 0) < (before_t or 0))
    return messages[max(0, end - BATCH):end]
