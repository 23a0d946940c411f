"""Media of a session, seen from the supervisor: what a file is (kind and mimetype, checked
against its first bytes), the scratch files handed to the worker, sends and downloads.

Files never cross the worker socket (frames are capped at 8 MiB): they are written to the
session's media scratch folder (``<state>/sessions/<id>/tmp/zv-media``, 0700, same user as the
worker) and handed over by path; see worker/protocol/messaging.py.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.config import Config
from supervisor.errors import InvalidRequest, PayloadTooLarge
from supervisor.sessions import messaging
from supervisor.sessions.session import Session
from supervisor.states import State
from worker import protocol

__all__ = ["Staged", "download", "media_send", "resolve_kind", "scratch_file", "sniff"]

#: First bytes of the formats WhatsApp takes, and what they are.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"), (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"), (0, b"GIF89a", "image/gif"), (8, b"WEBP", "image/webp"),
    (4, b"ftyp", "video/mp4"), (0, b"\x1aE\xdf\xa3", "video/webm"), (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"), (0, b"\xff\xfb", "audio/mpeg"), (0, b"\xff\xf3", "audio/mpeg"),
    (0, b"#!AMR", "audio/amr"), (0, b"%PDF-", "application/pdf"), (0, b"PK\x03\x04", "application/zip"),
)
#: What WhatsApp shows inline per kind (anything else must go as a document). ISO BMFF
#: ("ftyp") files are both video/mp4 and audio/mp4 (m4a).
_ACCEPTED = {
    "image": {"image/jpeg", "image/png"},
    "video": {"video/mp4", "video/3gpp"},
    "audio": {"audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/amr", "audio/opus"},
    "ptt": {"audio/ogg", "audio/opus", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"},
    "sticker": {"image/webp"},
}
_SAME = {"audio/mp4": "video/mp4", "audio/opus": "audio/ogg", "video/3gpp": "video/mp4"}
_KINDS = ", ".join(protocol.MediaKind)


def sniff(head: bytes) -> str | None:
    """The mimetype a file's first bytes say, when they say one."""
    for offset, magic, mimetype in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return mimetype
    return None


def _base(mimetype: str) -> str:
    return mimetype.split(";", 1)[0].strip().lower()


def resolve_kind(kind: str | None, voice: bool, declared: str | None, filename: str,
                 head: bytes) -> tuple[str, str]:
    """The kind (protocol.MediaKind) and mimetype of a file: the declared mimetype, else the one
    its bytes or its name say; the kind given, else the one the mimetype says. InvalidRequest
    when the bytes contradict the mimetype, or the kind does not take it."""
    sniffed = sniff(head)
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    mimetype = (declared or "").strip() or sniffed or guessed or "application/octet-stream"
    base = _base(mimetype)
    if "/" not in base or len(mimetype) > 127 or not mimetype.isascii():
        raise InvalidRequest(f"mimetype {mimetype[:60]!r} is not a mimetype")
    if voice:
        if kind not in (None, "ptt", "audio"):
            raise InvalidRequest(f"voice notes are audio, not {kind}")
        kind = "ptt"
    if kind is None:
        top = base.split("/", 1)[0]
        kind = top if top in ("image", "video", "audio") and base in _ACCEPTED[top] else "document"
    if kind not in set(protocol.MediaKind):
        raise InvalidRequest(f"kind {kind!r} is not one of {_KINDS}")
    if kind != "document":
        if base not in _ACCEPTED[kind]:
            raise InvalidRequest(f"a {kind} must be one of {', '.join(sorted(_ACCEPTED[kind]))}, "
                                 f"not {base} (send it as a document)")
        if sniffed is not None and _SAME.get(base, base) != _SAME.get(sniffed, sniffed):
            raise InvalidRequest(f"the file is {sniffed} by its content, not {base}")
    return kind, mimetype


def scratch_file(session: Session) -> Path:
    """A new, unused path in the session's media scratch folder (created 0700)."""
    folder = session.ctx.config.layout.media_scratch(session.id)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / secrets.token_hex(16)


@dataclass
class Staged:
    """A file received for sending, in the session's scratch folder (``path``, 0600)."""

    path: Path
    size: int = 0
    head: bytes = b""
    filename: str = ""
    mimetype: str | None = None

    def open(self) -> int:
        """Create the file (exclusive, 0600); its descriptor."""
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def add(self, fd: int, chunk: bytes, limit: int) -> None:
        """Append ``chunk``; PayloadTooLarge past ``limit`` bytes."""
        self.size += len(chunk)
        if self.size > limit:
            raise PayloadTooLarge(f"the file is larger than {limit} bytes, the largest "
                                  "[media] allows")
        if len(self.head) < 64:
            self.head = (self.head + chunk)[:64]
        os.write(fd, chunk)

    def discard(self) -> None:
        """Delete the file (when it is refused; the queue keeps a file it takes)."""
        self.path.unlink(missing_ok=True)


def media_send(config: Config, to: object, staged: Staged, kind: str | None = None,
               caption: object = None, voice: bool = False, reply_to: object = None,
               mentions: object = None) -> tuple[str, str, dict[str, Any]]:
    """A staged file's send checked for the queue: its chat, kind and payload ({"mimetype",
    "filename", "size", "caption", "reply_to"?, "mentions"?}; the queue adds the file's path).
    On a bad input the file is deleted and InvalidRequest or PayloadTooLarge says why."""
    try:
        recipient = messaging.chat_id(to)
        if caption is not None and not isinstance(caption, str):
            raise InvalidRequest("caption must be a string")
        if caption and len(caption) > config.whatsapp.max_text_chars:
            raise InvalidRequest(f"caption has {len(caption)} characters; at most "
                                 f"{config.whatsapp.max_text_chars} are allowed")
        if staged.size == 0:
            raise InvalidRequest("the file is empty")
        kind, mimetype = resolve_kind(kind, voice, staged.mimetype, staged.filename, staged.head)
        limit = config.media.max_bytes(kind)
        if staged.size > limit:
            raise PayloadTooLarge(f"a {kind} may have at most {limit} bytes ([media] "
                                  f"max_{'audio' if kind == 'ptt' else kind}_bytes); this one has {staged.size}")
        if kind == "sticker" and caption:
            raise InvalidRequest("stickers have no caption")
        filename = staged.filename or f"file{mimetypes.guess_extension(_base(mimetype)) or ''}"
        payload = {"mimetype": mimetype, "filename": filename, "caption": caption or "",
                   "size": staged.size, **messaging.reply_fields(reply_to, mentions)}
    except BaseException:
        staged.discard()
        raise
    return recipient, kind, payload


async def download(session: Session, message: object) -> tuple[Path, dict[str, Any]]:
    """Have the worker write message ``message``'s media to a new scratch file: its path and
    {"mimetype", "filename", "size"}. The caller deletes the file once it has used it."""
    config = session.ctx.config.media
    path = scratch_file(session)
    args = protocol.DownloadArgs(id=messaging.message_id(message), path=str(path),
                                 max_bytes=config.max_download_bytes)
    try:
        info = await messaging.call_worker(session, State.WORKING, protocol.OP_DOWNLOAD_MEDIA, args,
                                           config.transfer_timeout_s)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, info
