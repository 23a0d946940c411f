"""Frames: how one message is put on the socket and read back (see the package docstring)."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, Final

from worker.protocol.names import ErrorType, WorkerErrorType

#: Largest body accepted in either direction; anything larger is a bug or an attack and ends
#: the connection. The largest frames today carry one text message: the API takes bodies of at
#: most 1 MiB by default ([server] max_body_bytes) and WhatsApp texts of at most 65 536
#: characters, so 8 MiB leaves ample room while bounding what either side buffers for a
#: peer. Media sent as base64 would not fit in general (a 16 MB video is ~21 MiB encoded):
#: such a feature must stream it in chunks, or raise this on purpose.
MAX_FRAME_BYTES: Final = 8 * 1024 * 1024

_HEADER: Final = struct.Struct(">I")


class ProtocolError(Exception):
    """A frame or message that does not follow this contract."""


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
