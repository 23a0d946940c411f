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
"""

from __future__ import annotations

import asyncio
import enum
import json
import struct
from collections.abc import Mapping
from typing import Any, Final, NotRequired, TypedDict

__all__ = [
    "CHILD_ENV", "DISPLAY_ENV", "EXIT_BOOT_FAILURE", "EXIT_CRASH", "EXIT_OK", "MAX_FRAME_BYTES",
    "SESSION_ENV", "STATE_DIR_ENV", "WORKER_PROCESS_NAME", "ZYGOTE_MAX_MESSAGE_BYTES", "ZYGOTE_MODULE",
    "BootSpec", "ErrorType", "ExitKind", "LogoutOrigin", "MessageOrigin", "ProtocolError",
    "WhatsAppSpec", "WorkerErrorType", "WorkerState", "ZygoteOp", "encode", "kind_of",
    "child_env", "make_error", "make_event", "make_reply", "make_request", "read_message",
]

#: Largest body accepted in either direction; anything larger is a bug or an attack and ends
#: the connection. The largest frames today carry one text message: the API takes bodies of at
#: most 1 MiB by default ([server] max_body_bytes) and WhatsApp texts of at most 65 536
#: characters, so 8 MiB leaves ample room while bounding what either side buffers for a
#: peer. Media sent as base64 would not fit in general (a 16 MB video is ~21 MiB encoded):
#: such a feature must stream it in chunks, or raise this on purpose.
MAX_FRAME_BYTES: Final = 8 * 1024 * 1024

_HEADER: Final = struct.Struct(">I")

# Worker exit codes. 3 mirrors gunicorn's WORKER_BOOT_ERROR: a restart will not help.
EXIT_OK: Final = 0
EXIT_CRASH: Final = 1
EXIT_BOOT_FAILURE: Final = 3

#: The marker every worker and Chrome carries in its environment: which install (state dir)
#: and which session it belongs to. The supervisor's orphan sweep and the worker's "profile in
#: use" check both read them.
STATE_DIR_ENV: Final = "ZAPVISOR_STATE_DIR"
SESSION_ENV: Final = "ZAPVISOR_SESSION"
#: All a worker, the zygote or Chrome inherits of its parent's environment (with LC_*; a windowed
#: Chrome also the display's): no ZAPVISOR_* secrets, no NOTIFY_SOCKET, nothing else (child_env).
CHILD_ENV: Final = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", STATE_DIR_ENV, SESSION_ENV})
DISPLAY_ENV: Final = frozenset({"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR"})

#: A worker's process name (prctl PR_SET_NAME): ps, the orphan sweep and the tests tell a
#: worker from the zygote that forked it by this name.
WORKER_PROCESS_NAME: Final = "zapvisor-worker"

#: The zygote: ``python -m ZYGOTE_MODULE --fd N --parent PID``. It talks over a SOCK_SEQPACKET
#: socketpair, one JSON object per packet (at most ZYGOTE_MAX_MESSAGE_BYTES), fds as SCM_RIGHTS.
ZYGOTE_MODULE: Final = "worker.zygote"
ZYGOTE_MAX_MESSAGE_BYTES: Final = 64 * 1024


class ZygoteOp(enum.StrEnum):
    """The ``op`` of a zygote message.

    SPAWN    supervisor -> zygote  {"id", "session", "env"} + the worker's socket fd
    SPAWNED  zygote -> supervisor  {"id", "pid"} + a pidfd of the new worker
    FAILED   zygote -> supervisor  {"id", "error"}: no worker was forked
    EXITED   zygote -> supervisor  {"pid", "returncode"}: a worker ended (reaped by the zygote)
    """

    SPAWN = "spawn"
    SPAWNED = "spawned"
    FAILED = "failed"
    EXITED = "exited"


class WorkerState(enum.StrEnum):
    """The states a worker reports in EV_STATE (a subset of the supervisor's session states,
    spelled the same)."""

    STARTING = "STARTING"
    SCAN_QR_CODE = "SCAN_QR_CODE"
    WORKING = "WORKING"
    FAILED = "FAILED"  # the driver gave up: a restart will not help (the reason says why)


class ErrorType(enum.StrEnum):
    """The ``type`` of an error reply. The supervisor maps each to one class of its error
    hierarchy (and so to one HTTP status); an unknown one becomes a generic worker error."""

    CONFLICT = "Conflict"  # the session's page is in the wrong state for this request
    INVALID_REQUEST = "InvalidRequest"  # bad arguments
    NOT_FOUND = "NotFound"  # the thing asked about does not exist
    UNAVAILABLE = "Unavailable"  # the page did not answer in time, or failed
    NOT_ON_WHATSAPP = "NotOnWhatsApp"  # the recipient's number has no WhatsApp account
    WORKER_ERROR = "WorkerError"  # anything else


class WorkerErrorType(enum.StrEnum):
    """The ``type`` of an error reply naming a failure only the worker knows. The supervisor has
    no class of its own for these: each arrives as its generic worker error, which keeps the
    name (API clients see it in ``error.type``)."""

    BOOT_FAILED = "BootFailed"  # the session could not be started (the base of the boot failures)
    BAD_BOOT_SPEC = "BadBootSpec"  # the first frame was not a valid boot request
    CHROME_NOT_FOUND = "ChromeNotFound"  # no Chrome executable
    PROFILE_UNUSABLE = "ProfileUnusable"  # the profile directory is unusable or in use
    CHROME_LAUNCH_FAILED = "ChromeLaunchFailed"  # Chrome exited or CDP could not attach at boot
    CHROME_LAUNCH_TIMEOUT = "ChromeLaunchTimeout"  # CDP silent within launch_timeout_s
    UNKNOWN_OPERATION = "UnknownOperation"  # an op this worker (or its driver) does not know
    NOT_READY = "NotReady"  # the op needs the page driver, which is not running yet
    ALREADY_BOOTED = "AlreadyBooted"  # a second boot request
    OPERATION_FAILED = "OperationFailed"  # the op raised (the message says what)
    WORKER_STOPPING = "WorkerStopping"  # the worker stopped before it could answer


class MessageOrigin(enum.StrEnum):
    """Who made the worker send a message (EV_MESSAGE_SENT ``origin``)."""

    API = "api"  # OP_SEND_TEXT
    BOT = "bot"  # the session's own bot, answering a command (worker.drivers.chatbot)


class LogoutOrigin(enum.StrEnum):
    """Who ended a WhatsApp login (EV_LOGOUT ``origin``)."""

    PHONE = "phone"  # the phone unlinked this device
    API = "api"  # OP_LOGOUT
    UNPAIRED = "unpaired"  # the page fell back to a login screen by itself


class ExitKind(enum.StrEnum):
    """Why a worker exits, as a fixed code (EV_EXITING ``kind``) beside the free ``reason``
    text: metrics and restart decisions read the code, people read the text."""

    STOP = "stop"  # asked to stop: signal, OP_STOP, the supervisor went away
    BOOT_FAILURE = "boot_failure"  # the boot failed; its exit code says whether a restart may help
    CDP_UNRESPONSIVE = "cdp_unresponsive"  # Chrome stopped answering CDP
    PAGE_UNRESPONSIVE = "page_unresponsive"  # the page's renderer hung
    CHROME_EXITED = "chrome_exited"  # Chrome died or the CDP connection dropped
    DRIVER_FAILED = "driver_failed"  # the page driver crashed (1) or gave up (EXIT_BOOT_FAILURE)
    CRASHED = "crashed"  # anything else (a bug, a protocol error)


# Operations the supervisor may request.
OP_BOOT: Final = "boot"  # args: BootSpec -> result {"chrome_pid", "browser_version", "executable"}
OP_STOP: Final = "stop"  # args: {} -> result {}; the worker then closes Chrome and exits 0
# Operations of the WhatsApp driver (worker/whatsapp.py); refused unless its page is logged in
# (or, for pairing_code, shows a QR).
OP_SEND_TEXT: Final = "send_text"  # args: {"to": chat id, "text"} -> {"id", "to", "ack", "timestamp"}
OP_PAIRING_CODE: Final = "pairing_code"  # args: {"phone": digits} -> {"code": 8 characters}
OP_LOGOUT: Final = "logout"  # args: {} -> {}; EV_LOGOUT follows once the page logged out

# Events a worker may send unsolicited.
EV_STATE: Final = "state"  # data: {"state": WorkerState, "reason"?: str, ...}
EV_HEARTBEAT: Final = "heartbeat"  # data: {"seq", "cdp_rtt_ms", "chrome_pid", "pss_bytes", "processes"}
EV_CHROME_EXITED: Final = "chrome_exited"  # data: {"returncode"}
EV_EXITING: Final = "exiting"  # data: {"code", "kind": ExitKind, "reason"}; the last frame before exit
# Events of the WhatsApp driver, named as the supervisor's bus events they become.
EV_QR: Final = "session.qr"  # data: {"qr": raw QR string, "attempt": n}, once per new QR
EV_LOGOUT: Final = "session.logout"  # data: {"origin": "phone" | "api" | "unpaired", "phone_number"}
EV_MESSAGE: Final = "message"  # data: {"id", "from", "to", "chat_id", "body", "type", "timestamp",
#                                       "from_me", "author", "kind", "notify_name"}
EV_MESSAGE_SENT: Final = "message.sent"  # data: {"id", "to", "ack", "timestamp", "body", "origin"}:
#                                       every send the worker makes, origin "api" (OP_SEND_TEXT) or "bot"
EV_MESSAGE_ACK: Final = "message.ack"  # data: {"id", "ack"}: -1 error, 0 pending, 1 server, 2 device, 3 read
EV_PAGE: Final = "session.page"  # data: {"wa_version"}: the WhatsApp Web build the page runs, once known
EV_SYNC: Final = "session.sync"  # data: {"percent"}: the first sync's progress as the page reports it
EV_PAIRING_CODE: Final = "session.pairing_code"  # data: {"code", "phone", "expires_in_s"}: each new code
EV_INCOMPATIBLE: Final = "session.incompatible"  # data: {"wa_version", "missing": ["module.function"]}:
#                                       the page lacks what the driver needs; FAILED follows


class ProtocolError(Exception):
    """A frame or message that does not follow this contract."""


class WhatsAppSpec(TypedDict):
    """How the WhatsApp driver follows its page (the supervisor's ``[whatsapp]`` config)."""

    driver: str  # "whatsapp", or "basic": open the URL and report WORKING (no WhatsApp)
    ready_timeout_s: float
    qr_timeout_s: float
    qr_max_refreshes: int
    pairing_code_interval_s: float
    takeover_on_conflict: bool
    send_timeout_s: float
    ignore_groups: bool
    ignore_status: bool
    ignore_newsletters: bool
    commands: list[str]
    command_prefix: str


class BootSpec(TypedDict):
    """Everything a worker needs to start its session, sent as the args of ``boot``."""

    session_id: str
    profile_dir: str
    tmp_dir: str
    url: str
    chrome_executable: str  # "" = find one
    chrome_headless: bool
    chrome_extra_args: list[str]
    chrome_user_agent: str  # "" = Chrome's own
    launch_timeout_s: float
    page_timeout_s: float
    heartbeat_interval_s: float
    close_timeout_s: float
    whatsapp: NotRequired[WhatsAppSpec]  # absent: the basic driver


def encode(message: dict[str, Any]) -> bytes:
    """Return ``message`` as one frame; raise ProtocolError if it is too large."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    return _HEADER.pack(len(body)) + body


def _decode_body(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"frame body is not UTF-8 JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("frame body is not a JSON object")
    kind_of(message)
    return message


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """Read one message; None on a clean EOF between frames."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection closed inside a frame header") from None
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ProtocolError("connection closed inside a frame body") from None
    return _decode_body(body)


def child_env(source: Mapping[str, str], display: bool = False) -> dict[str, str]:
    """What of ``source`` a child may inherit: CHILD_ENV, LC_*, and DISPLAY_ENV if ``display``."""
    return {k: v for k, v in source.items()
            if k in CHILD_ENV or k.startswith("LC_") or (display and k in DISPLAY_ENV)}


def make_request(request_id: int, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A request from the supervisor."""
    return {"id": request_id, "op": op, "args": args or {}}


def make_reply(request_id: int, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """A successful reply."""
    return {"id": request_id, "ok": True, "result": result or {}}


def make_error(request_id: int, error_type: ErrorType | WorkerErrorType, message: str) -> dict[str, Any]:
    """A failed reply: ``error_type`` is one of the supervisor's error classes (ErrorType) or
    a failure only the worker knows (WorkerErrorType)."""
    return {"id": request_id, "ok": False, "error": {"type": error_type, "message": message}}


def make_event(event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """An unsolicited event from the worker."""
    return {"event": event, "data": data or {}}


def kind_of(message: dict[str, Any]) -> str:
    """Return "request", "reply" or "event"; raise ProtocolError for anything else."""
    has_id = isinstance(message.get("id"), int)
    if "event" in message:
        if isinstance(message["event"], str) and isinstance(message.get("data", {}), dict):
            return "event"
    elif "op" in message:
        if has_id and isinstance(message["op"], str) and isinstance(message.get("args", {}), dict):
            return "request"
    elif "ok" in message:
        if has_id and isinstance(message["ok"], bool) and (message["ok"] or isinstance(message.get("error"), dict)):
            return "reply"
    raise ProtocolError(f"message of unknown shape: keys {sorted(message)}")
