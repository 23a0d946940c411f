"""WhatsApp's media servers (mmg.whatsapp.net), as far as a page sees them: a file uploaded gets
a ``directPath``; a ``directPath`` gives the file back.

Real WhatsApp stores media encrypted with a per-message ``mediaKey`` and the page decrypts it
(whatsapp-web.js src/structures/Message.js downloadMedia: ``WAWebDownloadManager.
downloadManager.downloadAndMaybeDecrypt``). Encryption is not modelled: the store keeps the plain
bytes, so what a test gives is what the page hands out.

    POST /_sim/mms/upload      body: the file -> {"direct_path", "enc_filehash"}  (the page)
    GET  /_sim/mms?path=...    the file, or 404                                   (the page)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import time
from typing import TYPE_CHECKING

from aiohttp import web

from .hub import ControlError

if TYPE_CHECKING:
    from .hub import Hub

__all__ = ["add_mms_routes", "media_bytes", "store_media"]

#: The largest file the media servers take (WhatsApp documents: 100 MB on WhatsApp Web).
MAX_UPLOAD_BYTES = 100 * 1000 * 1000 + 1


def media_response(hub: Hub, direct_path: str) -> web.Response:
    """The bytes stored under ``direct_path``, or a 404 (never stored, or expired)."""
    found = hub.media.get(direct_path)
    if found is None:
        return web.json_response({"error": "no such media (expired?)"}, status=404)
    return web.Response(body=found[0], content_type="application/octet-stream")


def store_media(hub: Hub, data: bytes, mimetype: str) -> str:
    """Keep ``data``; the directPath it is found under (shaped like WhatsApp's)."""
    oe = format(int(time.time()) + 14 * 86400, "X")
    path = (f"/v/t62.7118-24/{secrets.token_hex(12)}_n.enc?ccb=11-4&oh=01_{secrets.token_hex(16)}"
            f"&oe={oe}&_nc_sid=5e03e0")
    hub.media[path] = (data, mimetype)
    return path


def media_bytes(given: object, size: int) -> bytes:
    """The bytes of an incoming media message: ``given`` (base64), else ``size`` random bytes."""
    if given is None:
        return os.urandom(size)
    try:
        return base64.b64decode(str(given), validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(400, "data must be base64") from None


def add_mms_routes(app: web.Application, hub_of: web.AppKey[Hub]) -> None:
    """Mount the media server's two routes."""

    async def upload(request: web.Request) -> web.StreamResponse:
        data = b""
        while chunk := await request.content.read(1 << 20):
            data += chunk
            if len(data) >= MAX_UPLOAD_BYTES:
                break
        if len(data) >= MAX_UPLOAD_BYTES:
            return web.json_response({"error": "file too large for WhatsApp"}, status=413)
        path = store_media(request.app[hub_of], data, request.content_type)
        enc = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return web.json_response({"direct_path": path, "enc_filehash": enc})

    async def download(request: web.Request) -> web.StreamResponse:
        return media_response(request.app[hub_of], request.query.get("path", ""))

    app.router.add_post("/_sim/mms/upload", upload)
    app.router.add_get("/_sim/mms", download)
