"""The names a request, reply or event carries: operations, events, states and error types."""

from __future__ import annotations

import enum
from typing import Final


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
    TOO_LARGE = "PayloadTooLarge"  # a media file over the size allowed
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


# Operations the supervisor may request.
OP_BOOT: Final = "boot"  # args: BootSpec -> result {"chrome_pid", "browser_version", "executable"}
OP_STOP: Final = "stop"  # args: {} -> result {}; the worker then closes Chrome and exits 0
# args: LeaseArgs -> {"remaining_s"}: run Chrome until then, else fence (EXIT_FENCED); a lease
# that has lapsed already is refused (CONFLICT) and never revived (protocol.spec.LeaseArgs)
OP_LEASE: Final = "lease"
# Operations of the WhatsApp driver (worker/whatsapp.py); refused unless its page is logged in
# (or, for pairing_code, shows a QR).
# args: {"to": chat id, "text", "reply_to"?, "mentions"?} -> {"id", "to", "ack", "timestamp"}
OP_SEND_TEXT: Final = "send_text"
OP_PAIRING_CODE: Final = "pairing_code"  # args: {"phone": digits} -> {"code": 8 characters}
OP_LOGOUT: Final = "logout"  # args: {} -> {}; EV_LOGOUT follows once the page logged out

# Events a worker may send unsolicited.
EV_STATE: Final = "state"  # data: {"state": WorkerState, "reason"?: str, ...}
# data: {"seq", "cdp_rtt_ms", "browser_rtt_ms", "probe_failures", "page_stalled_s"}: liveness and
# the latest CDP probes only, never a measurement (worker/heartbeat.py)
EV_HEARTBEAT: Final = "heartbeat"
EV_CHROME_EXITED: Final = "chrome_exited"  # data: {"returncode"}
EV_EXITING: Final = "exiting"  # data: {"code", "kind": ExitKind, "reason"}; the last frame before exit
# Events of the WhatsApp driver, named as the supervisor's bus events they become.
EV_QR: Final = "session.qr"  # data: {"qr": raw QR string, "attempt": n}, once per new QR
EV_LOGOUT: Final = "session.logout"  # data: {"origin": "phone" | "api" | "unpaired", "phone_number"}
EV_MESSAGE: Final = "message"  # data: {"id", "from", "to", "chat_id", "body", "type", "timestamp",
#                                       "from_me", "author", "kind", "notify_name"}
EV_MESSAGE_SENT: Final = "message.sent"  # data: {"id", "to", "ack", "timestamp", "body", "origin"}:
#                                       every send the worker makes, origin "api" (OP_SEND_TEXT) or "bot";
#                                       "queue_id" when the send named one (messaging.py)
EV_MESSAGE_ACK: Final = "message.ack"  # data: {"id", "ack"}: -1 error, 0 pending, 1 server, 2 device, 3 read
EV_PAGE: Final = "session.page"  # data: {"wa_version"}: the WhatsApp Web build the page runs, once known
EV_SYNC: Final = "session.sync"  # data: {"percent"}: the first sync's progress as the page reports it
EV_PAIRING_CODE: Final = "session.pairing_code"  # data: {"code", "phone", "expires_in_s"}: each new code
EV_INCOMPATIBLE: Final = "session.incompatible"  # data: {"wa_version", "missing": ["module.function"]}:
#                                       the page lacks what the driver needs; FAILED follows
