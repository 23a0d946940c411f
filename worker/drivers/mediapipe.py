"""Media between the worker and its page, in chunks: a file of the session's scratch directory
into the page (:func:`push`), and a message's decrypted media out of it into a file
(:func:`pull`).

One CDP call carries one chunk (1 MiB, about 1.4 MB of base64), so a 100 MB document never
sits whole in a CDP message, and the worker never holds more than a chunk. Paths come from the
supervisor and must lie in this session's media scratch folder (protocol.MEDIA_SCRATCH): the
worker writes nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from pathlib import Path
from typing import Any

from worker import protocol
from worker.drivers.base import OperationRefused
from worker.drivers.scriptedpage import ScriptedPage

__all__ = ["CHUNK_BYTES", "pull", "push", "refusal", "scratch_path"]

CHUNK_BYTES = 1024 * 1024


def refusal(result: Any) -> None:
    """Raise the page's ``{"error": {type, message}}`` answer as an OperationRefused."""
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        error = result["error"]
        kinds = {kind.value: kind for kind in protocol.ErrorType}
        raise OperationRefused(kinds.get(str(error.get("type")), protocol.ErrorType.WORKER_ERROR),
                               str(error.get("message")))


def scratch_path(tmp_dir: str, given: object) -> Path:
    """``given`` as a path inside ``tmp_dir``'s media scratch folder; InvalidRequest otherwise."""
    folder = (Path(tmp_dir) / protocol.MEDIA_SCRATCH).resolve()
    path = Path(str(given)).resolve()
    if not isinstance(given, str) or path.parent != folder:
        raise OperationRefused(protocol.ErrorType.INVALID_REQUEST,
                               f"media path must be a file of {folder}, got {given!r}")
    return path


def _read(path: Path, offset: int) -> bytes:
    with path.open("rb") as source:
        source.seek(offset)
        return source.read(CHUNK_BYTES)


async def push(wa: ScriptedPage, path: Path) -> str:
    """Hand the file at ``path`` to the page in chunks; the upload id the page keeps it under."""
    upload = secrets.token_hex(12)
    offset = 0
    try:
        while True:
            chunk = await asyncio.to_thread(_read, path, offset)
            if not chunk:
                return upload
            await wa.call("mediaPut", upload, base64.b64encode(chunk).decode("ascii"))
            offset += len(chunk)
    except BaseException:
        await asyncio.shield(_drop(wa, upload))
        raise


async def _drop(wa: ScriptedPage, handle: str) -> None:
    try:
        await wa.call("mediaDrop", handle)
    except Exception:  # the page went away: nothing of it is left to free
        pass


async def pull(wa: ScriptedPage, message_id: str, path: Path, max_bytes: int,
               timeout_s: float) -> dict[str, Any]:
    """Have the page decrypt message ``message_id``'s media (at most ``max_bytes``) and write it
    to ``path`` (created 0600, must not exist); ``{"mimetype", "filename", "size"}``."""
    info = await wa.call("mediaFetch", message_id, max_bytes, timeout_s=timeout_s)
    refusal(info)
    handle, size = str(info["handle"]), int(info["size"])
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as target:
            offset = 0
            while offset < size:
                data = base64.b64decode(await wa.call("mediaRead", handle, offset, CHUNK_BYTES))
                if not data:
                    break
                await asyncio.to_thread(target.write, data)
                offset += len(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        await asyncio.shield(_drop(wa, handle))
    return {"mimetype": info.get("mimetype"), "filename": info.get("filename"), "size": offset}
