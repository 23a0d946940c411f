"""The wire contract between the supervisor and its workers (stdlib only).

Both packages import this module; nothing else is shared between them. A frame is::

    +----------------+-----------------------------------+
    | length: 4 bytes| body: `length` bytes of UTF-8 JSON |
    | big-endian u32 | (one JSON object)                  |
    +----------------+-----------------------------------+

Three message shapes travel in frames::

    request  {"id": 7, "op": "send_text", "args": {...}}           supervisor -> worker
    reply    {"id": 7, "ok": true, "result": {...}}                worker -> supervisor
             {"id": 7, "ok": false, "error": {"type": "...", "message": "..."}}
    event    {"event": "heartbeat", "data": {...}}                 worker -> supervisor

:func:`encode` turns a message into one frame; :func:`read_message` reads one back from a
stream. Both sides use these two and nothing else to touch the socket.

The contract is split by subject, and every name is re-exported here: ``process`` (exit codes,
environment markers, the zygote's messages, exit kinds), ``names`` (operations, events, states,
error types), ``messaging`` (media, reactions, chats, groups: operations and events),
``spec`` (the boot request), ``frames`` (encoding).
"""

from __future__ import annotations

from worker.protocol.frames import (
    MAX_FRAME_BYTES,
    ProtocolError,
    encode,
    kind_of,
    make_error,
    make_event,
    make_reply,
    make_request,
    read_message,
)
from worker.protocol.messaging import (
    EV_GROUP_JOIN,
    EV_GROUP_LEAVE,
    EV_MESSAGE_EDITED,
    EV_MESSAGE_REACTION,
    EV_MESSAGE_REVOKED,
    MEDIA_SCRATCH,
    MESSAGING_ARGS,
    MESSAGING_OPS,
    OP_CHAT_MESSAGES,
    OP_CHECK_NUMBER,
    OP_DOWNLOAD_MEDIA,
    OP_FIND_SENT,
    OP_GROUP_INFO,
    OP_LIST_CHATS,
    OP_LIST_CONTACTS,
    OP_LIST_GROUPS,
    OP_MARK_READ,
    OP_NEW_MESSAGE_ID,
    OP_PRESENCE,
    OP_PROFILE_PICTURE,
    OP_REACT,
    OP_REVOKE,
    OP_SEND_MEDIA,
    ChatArgs,
    ChatMessagesArgs,
    CheckNumberArgs,
    ContactArgs,
    DownloadArgs,
    FindSentArgs,
    ListChatsArgs,
    MediaKind,
    MessageArgs,
    NoArgs,
    PresenceArgs,
    PresenceState,
    ReactArgs,
    SendMediaArgs,
    args_problem,
)
from worker.protocol.names import (
    EV_CHROME_EXITED,
    EV_EXITING,
    EV_HEARTBEAT,
    EV_INCOMPATIBLE,
    EV_LOGOUT,
    EV_MESSAGE,
    EV_MESSAGE_ACK,
    EV_MESSAGE_SENT,
    EV_PAGE,
    EV_PAIRING_CODE,
    EV_QR,
    EV_STATE,
    EV_SYNC,
    OP_BOOT,
    OP_LEASE,
    OP_LOGOUT,
    OP_PAIRING_CODE,
    OP_SEND_TEXT,
    OP_STOP,
    ErrorType,
    LogoutOrigin,
    MessageOrigin,
    WorkerErrorType,
    WorkerState,
)
from worker.protocol.process import (
    CHILD_ENV,
    DISPLAY_ENV,
    EXIT_BOOT_FAILURE,
    EXIT_CRASH,
    EXIT_FENCED,
    EXIT_OK,
    SESSION_ENV,
    STATE_DIR_ENV,
    WHICH_CHROME_MODULE,
    WORKER_PROCESS_NAME,
    ZYGOTE_MAX_MESSAGE_BYTES,
    ZYGOTE_MODULE,
    ExitKind,
    ZygoteOp,
    child_env,
)
from worker.protocol.spec import (
    CHROME_LEAN_DEFAULT,
    PASSWORD_MASK,
    BootSpec,
    ChromeLean,
    LeaseArgs,
    ProxyScheme,
    ProxySpec,
    WhatsAppSpec,
    proxy_display,
)

__all__ = [
    "EXIT_OK", "EXIT_CRASH", "EXIT_BOOT_FAILURE", "STATE_DIR_ENV", "SESSION_ENV", "CHILD_ENV",
    "DISPLAY_ENV", "WORKER_PROCESS_NAME", "WHICH_CHROME_MODULE", "ZYGOTE_MODULE", "ZYGOTE_MAX_MESSAGE_BYTES",
    "ZygoteOp", "ExitKind", "child_env", "WorkerState", "ErrorType", "WorkerErrorType",
    "MessageOrigin", "LogoutOrigin", "OP_BOOT", "OP_STOP", "OP_SEND_TEXT", "OP_PAIRING_CODE",
    "OP_LOGOUT", "EV_STATE", "EV_HEARTBEAT", "EV_CHROME_EXITED", "EV_EXITING", "EV_QR",
    "EV_LOGOUT", "EV_MESSAGE", "EV_MESSAGE_SENT", "EV_MESSAGE_ACK", "EV_PAGE", "EV_SYNC",
    "EV_PAIRING_CODE", "EV_INCOMPATIBLE", "WhatsAppSpec", "BootSpec", "ChromeLean",
    "CHROME_LEAN_DEFAULT", "ProxyScheme", "ProxySpec", "PASSWORD_MASK", "proxy_display",
    "MAX_FRAME_BYTES",
    "ProtocolError", "encode", "read_message", "make_request", "make_reply", "make_error",
    "make_event", "kind_of", "MEDIA_SCRATCH", "MESSAGING_OPS", "MediaKind", "PresenceState",
    "SendMediaArgs", "DownloadArgs", "OP_SEND_MEDIA", "OP_DOWNLOAD_MEDIA", "OP_REACT", "OP_REVOKE",
    "OP_MARK_READ", "OP_PRESENCE", "OP_CHECK_NUMBER", "OP_LIST_CHATS", "OP_CHAT_MESSAGES",
    "OP_LIST_CONTACTS", "OP_PROFILE_PICTURE", "OP_LIST_GROUPS", "OP_GROUP_INFO",
    "EV_MESSAGE_REACTION", "EV_MESSAGE_REVOKED", "EV_MESSAGE_EDITED", "EV_GROUP_JOIN", "EV_GROUP_LEAVE",
    "OP_NEW_MESSAGE_ID", "OP_FIND_SENT", "OP_LEASE", "LeaseArgs", "EXIT_FENCED", "MESSAGING_ARGS",
    "NoArgs", "FindSentArgs", "MessageArgs", "ReactArgs", "ChatArgs", "PresenceArgs", "CheckNumberArgs",
    "ListChatsArgs", "ChatMessagesArgs", "ContactArgs", "args_problem",
]
