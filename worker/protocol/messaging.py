"""The messaging operations beyond text, their arguments, and the page's messaging events.

Media never crosses the socket: frames are capped at 8 MiB (frames.MAX_FRAME_BYTES) and WhatsApp
takes documents of 100 MB. The two sides run as the same user and share the session's private
scratch directory (``<state>/sessions/<id>/tmp``, 0700): the supervisor writes an upload to a
file there and hands the worker its path (OP_SEND_MEDIA); the worker writes a download to a path
the supervisor chose there (OP_DOWNLOAD_MEDIA), which the supervisor then streams and deletes.
Files are written 0600 under a folder of their own (MEDIA_SCRATCH); anything left by a crash is
removed with the rest of the scratch directory at the next boot.
"""

from __future__ import annotations

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


# Operations of the WhatsApp driver, like OP_SEND_TEXT refused unless its page is logged in.
# OP_SEND_TEXT also takes "reply_to" (a message id) and "mentions" (user ids).
# Exactly-once sends (the supervisor's send queue): OP_SEND_TEXT and OP_SEND_MEDIA take "msg_id",
# an id the page made with OP_NEW_MESSAGE_ID and the queue stored before asking for the send, and
# "queue_id", echoed in their EV_MESSAGE_SENT. After a crash, OP_FIND_SENT tells whether a message
# under that id reached the chat (then it is never sent again). A msg_id is 8-64 uppercase letters
# and digits (else INVALID_REQUEST); a send under one the page already holds (or is sending: that
# send is waited for) answers that message with "already_sent": true, sending nothing and
# emitting no EV_MESSAGE_SENT.
OP_NEW_MESSAGE_ID: Final = "new_message_id"  # {} -> {"msg_id": WhatsApp's MsgKey.newId()}
OP_FIND_SENT: Final = "find_sent"  # {"to", "msg_id"} -> {"found": bool, "id"?, "to"?, "ack"?, "timestamp"?}
OP_SEND_MEDIA: Final = "send_media"  # SendMediaArgs -> {"id", "to", "ack", "timestamp"}
OP_DOWNLOAD_MEDIA: Final = "download_media"  # DownloadArgs -> {"mimetype", "filename", "size"}
OP_REACT: Final = "react"  # {"id", "emoji": "" removes} -> {"id"}
OP_REVOKE: Final = "revoke"  # {"id"} -> {"id"}: delete our own message for everyone
OP_MARK_READ: Final = "mark_read"  # {"chat"} -> {"chat", "unread": count before}
OP_PRESENCE: Final = "presence"  # {"chat", "state": PresenceState, "duration_s"} -> {"chat", "state"}
OP_CHECK_NUMBER: Final = "check_number"  # {"phone": digits} -> {"phone", "on_whatsapp", "chat_id", "lid"}
OP_LIST_CHATS: Final = "list_chats"  # {"limit"} -> {"chats": [{"id", "name", "kind", "unread", "timestamp"}]}
OP_CHAT_MESSAGES: Final = "chat_messages"  # {"chat", "limit", "before"?: id} -> {"messages", "more"}
OP_LIST_CONTACTS: Final = "list_contacts"  # {} -> {"contacts": [{"id", "name", "phone", "lid"}]}
OP_PROFILE_PICTURE: Final = "profile_picture"  # {"id"} -> {"id", "url": str | None}
OP_LIST_GROUPS: Final = "list_groups"  # {} -> {"groups": [{"id", "name", "size"}]}
OP_GROUP_INFO: Final = "group_info"  # {"id"} -> {"id", "name", "owner", "participants": [...]}

#: Every messaging operation (the worker hands them all to the page driver).
MESSAGING_OPS: Final = frozenset({
    OP_SEND_MEDIA, OP_DOWNLOAD_MEDIA, OP_REACT, OP_REVOKE, OP_MARK_READ, OP_PRESENCE,
    OP_CHECK_NUMBER, OP_LIST_CHATS, OP_CHAT_MESSAGES, OP_LIST_CONTACTS, OP_PROFILE_PICTURE,
    OP_LIST_GROUPS, OP_GROUP_INFO, OP_NEW_MESSAGE_ID, OP_FIND_SENT,
})

# Events of the WhatsApp driver (named as the bus events they become). ``message`` events also
# carry "quoted_id", "mentions", and for media "mimetype", "filename", "size", "caption".
EV_MESSAGE_REACTION: Final = "message.reaction"  # {"id", "message_id", "chat_id", "sender_id", "emoji", "timestamp"}
EV_MESSAGE_REVOKED: Final = "message.revoked"  # {"id", "chat_id", "from_me", "author"}
EV_MESSAGE_EDITED: Final = "message.edited"  # {"id", "chat_id", "body", "previous_body"}
EV_GROUP_JOIN: Final = "group.join"  # {"group_id", "participants": [ids], "phones", "author", "how"}
EV_GROUP_LEAVE: Final = "group.leave"  # {"group_id", "participants": [ids], "phones", "author", "how"}
