"""The messaging operations beyond text, their arguments, and the page's messaging events.

Media never crosses the socket: frames are capped at 8 MiB (frames.MAX_FRAME_BYTES) and WhatsApp
takes documents of 100 MB. The two sides run as the same user and share the session's private
scratch directory (``<state>/sessions/<id>/tmp``, 0700): the supervisor writes an upload to a
file there and hands the worker its path (OP_SEND_MEDIA); the worker writes a download to a path
the supervisor chose there (OP_DOWNLOAD_MEDIA), which the supervisor then streams and deletes.
Files are written 0600 under a folder of their own (MEDIA_SCRATCH); anything left by a crash is
removed with the rest of the scratch directory at the next boot.
"""

# No ``from __future__ import annotations`` here: Python 3.11 reads a TypedDict's string
# annotations without seeing NotRequired, so every key would count as required (args_problem).
import enum
from typing import Final, NotRequired, TypedDict

#: The folder under a session's tmp dir that holds media in transit between the two sides.
MEDIA_SCRATCH: Final = "zv-media"


class MediaKind(enum.StrEnum):
    """What a sent file becomes in the chat (WhatsApp's message ``type``)."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    VOICE = "ptt"  # a voice note ("push to talk")
    DOCUMENT = "document"
    STICKER = "sticker"


class PresenceState(enum.StrEnum):
    """What the chat shows about us (OP_PRESENCE)."""

    TYPING = "typing"
    RECORDING = "recording"
    PAUSED = "paused"


class SendMediaArgs(TypedDict):
    """OP_SEND_MEDIA's arguments: the file at ``path`` (in the session's scratch), as ``kind``."""

    to: str
    path: str
    kind: str  # MediaKind
    mimetype: str
    filename: str
    caption: str
    reply_to: NotRequired[str]
    mentions: NotRequired[list[str]]
    msg_id: NotRequired[str]  # the id to send under (OP_NEW_MESSAGE_ID), see below
    queue_id: NotRequired[int]  # the send queue's entry, echoed in EV_MESSAGE_SENT


class DownloadArgs(TypedDict):
    """OP_DOWNLOAD_MEDIA's arguments: write message ``id``'s media to ``path``, at most
    ``max_bytes`` (more is refused before anything is written)."""

    id: str
    path: str
    max_bytes: int


class NoArgs(TypedDict):
    """The arguments of an operation that takes none (OP_NEW_MESSAGE_ID, OP_LIST_CONTACTS,
    OP_LIST_GROUPS)."""


class FindSentArgs(TypedDict):
    """OP_FIND_SENT's arguments: did a message under ``msg_id`` reach chat ``to``?"""

    to: str
    msg_id: str


class MessageArgs(TypedDict):
    """The arguments of an operation on one message (OP_REVOKE): its id as events carry it."""

    id: str


class ReactArgs(TypedDict):
    """OP_REACT's arguments: react to message ``id`` with ``emoji`` ("" removes ours)."""

    id: str
    emoji: str


class ChatArgs(TypedDict):
    """The arguments of an operation on one chat (OP_MARK_READ): its id."""

    chat: str


class PresenceArgs(TypedDict):
    """OP_PRESENCE's arguments: show ``state`` in ``chat`` for ``duration_s`` (then paused)."""

    chat: str
    state: str  # PresenceState
    duration_s: float


class CheckNumberArgs(TypedDict):
    """OP_CHECK_NUMBER's arguments: a phone number, digits only."""

    phone: str


class ListChatsArgs(TypedDict):
    """OP_LIST_CHATS's arguments: at most ``limit`` chats, latest first."""

    limit: int


class ChatMessagesArgs(TypedDict):
    """OP_CHAT_MESSAGES's arguments: up to ``limit`` messages of ``chat`` before message
    ``before`` (default: the latest)."""

    chat: str
    limit: int
    before: NotRequired[str]


class ContactArgs(TypedDict):
    """The arguments of an operation on one contact or group (OP_PROFILE_PICTURE,
    OP_GROUP_INFO): its chat id."""

    id: str


# Operations of the WhatsApp driver, like OP_SEND_TEXT refused unless its page is logged in.
# OP_SEND_TEXT also takes "reply_to" (a message id) and "mentions" (user ids).
# Exactly-once sends (the supervisor's send queue): OP_SEND_TEXT and OP_SEND_MEDIA take "msg_id",
# an id the page made with OP_NEW_MESSAGE_ID and the queue stored before asking for the send, and
# "queue_id", echoed in their EV_MESSAGE_SENT. After a crash, OP_FIND_SENT tells whether a message
# under that id reached the chat (then it is never sent again). A msg_id is 8-64 uppercase letters
# and digits (else INVALID_REQUEST); a send under one the page already holds (or is sending: that
# send is waited for) answers that message with "already_sent": true, sending nothing and
# emitting no EV_MESSAGE_SENT.
# Each operation's arguments are the TypedDict MESSAGING_ARGS names; its answer is given here.
OP_NEW_MESSAGE_ID: Final = "new_message_id"  # NoArgs -> {"msg_id": WhatsApp's MsgKey.newId()}
OP_FIND_SENT: Final = "find_sent"  # FindSentArgs -> {"found": bool, "id"?, "to"?, "ack"?, "timestamp"?}
OP_SEND_MEDIA: Final = "send_media"  # SendMediaArgs -> {"id", "to", "ack", "timestamp"}
OP_DOWNLOAD_MEDIA: Final = "download_media"  # DownloadArgs -> {"mimetype", "filename", "size"}
OP_REACT: Final = "react"  # ReactArgs -> {"id"}
OP_REVOKE: Final = "revoke"  # MessageArgs -> {"id"}: delete our own message for everyone
OP_MARK_READ: Final = "mark_read"  # ChatArgs -> {"chat", "unread": count before}
OP_PRESENCE: Final = "presence"  # PresenceArgs -> {"chat", "state"}
OP_CHECK_NUMBER: Final = "check_number"  # CheckNumberArgs -> {"phone", "on_whatsapp", "chat_id", "lid"}
OP_LIST_CHATS: Final = "list_chats"  # ListChatsArgs -> {"chats": [{"id", "name", "kind", "unread", "timestamp"}]}
OP_CHAT_MESSAGES: Final = "chat_messages"  # ChatMessagesArgs -> {"messages", "more"}
OP_LIST_CONTACTS: Final = "list_contacts"  # NoArgs -> {"contacts": [{"id", "name", "phone", "lid"}]}
OP_PROFILE_PICTURE: Final = "profile_picture"  # ContactArgs -> {"id", "url": str | None}
OP_LIST_GROUPS: Final = "list_groups"  # NoArgs -> {"groups": [{"id", "name", "size"}]}
OP_GROUP_INFO: Final = "group_info"  # ContactArgs -> {"id", "name", "owner", "participants": [...]}

#: Each messaging operation and the TypedDict of its arguments: the supervisor builds them
#: typed, the worker refuses a request whose keys are not these (INVALID_REQUEST naming them).
MESSAGING_ARGS: Final[dict[str, type]] = {
    OP_SEND_MEDIA: SendMediaArgs, OP_DOWNLOAD_MEDIA: DownloadArgs, OP_REACT: ReactArgs,
    OP_REVOKE: MessageArgs, OP_MARK_READ: ChatArgs, OP_PRESENCE: PresenceArgs,
    OP_CHECK_NUMBER: CheckNumberArgs, OP_LIST_CHATS: ListChatsArgs, OP_CHAT_MESSAGES: ChatMessagesArgs,
    OP_LIST_CONTACTS: NoArgs, OP_PROFILE_PICTURE: ContactArgs, OP_LIST_GROUPS: NoArgs,
    OP_GROUP_INFO: ContactArgs, OP_NEW_MESSAGE_ID: NoArgs, OP_FIND_SENT: FindSentArgs,
}
#: Every messaging operation (the worker hands them all to the page driver).
MESSAGING_OPS: Final = frozenset(MESSAGING_ARGS)


def args_problem(op: str, args: dict[str, object]) -> str | None:
    """What is wrong with the keys of messaging operation ``op``'s ``args`` (a missing or an
    unknown one), or None. Values are the driver's to check."""
    shape = MESSAGING_ARGS[op]
    required: frozenset[str] = getattr(shape, "__required_keys__")
    known = required | getattr(shape, "__optional_keys__")
    missing, unknown = sorted(required - args.keys()), sorted(args.keys() - known)
    if missing:
        return f"{op} needs {', '.join(missing)}"
    if unknown:
        return f"{op} takes no {', '.join(unknown)} (it takes {', '.join(sorted(known)) or 'nothing'})"
    return None

# Events of the WhatsApp driver (named as the bus events they become). ``message`` events also
# carry "quoted_id", "mentions", and for media "mimetype", "filename", "size", "caption".
EV_MESSAGE_REACTION: Final = "message.reaction"  # {"id", "message_id", "chat_id", "sender_id", "emoji", "timestamp"}
EV_MESSAGE_REVOKED: Final = "message.revoked"  # {"id", "chat_id", "from_me", "author"}
EV_MESSAGE_EDITED: Final = "message.edited"  # {"id", "chat_id", "body", "previous_body"}
EV_GROUP_JOIN: Final = "group.join"  # {"group_id", "participants": [ids], "phones", "author", "how"}
EV_GROUP_LEAVE: Final = "group.leave"  # {"group_id", "participants": [ids], "phones", "author", "how"}
