"""Media routes of the control API: send a file, download a received one.

    POST /api/sessions/{id}/media                    send a file: JSON {"to", "data": base64 |
                                                     "url", "kind"?, "caption"?, "filename"?,
                                                     "mimetype"?, "voice"?, "reply_to"?, "mentions"?}
                                                     or multipart/form-data (a "file" part and
                                                     the same fields) -> 201 {"id", "to", "kind", ...}
                                                     once sent, 202 while queued (api/queue.py)
    GET  /api/sessions/{id}/messages/{msg}/media     the file, streamed (a saved copy first)
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from supervisor.api import queue
from supervisor.api import schemas as sc
from supervisor.api.keys import REGISTRY, SENDS
from supervisor.api.spec import Answer, operation
from supervisor.api.uploads import FIELDS, MULTIPART, staged_upload
from supervisor.errors import (
    Conflict,
    NotOnWhatsApp,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
)
from supervisor.sessions import media, mediastore
from supervisor.sessions.messaging import message_id

__all__ = ["routes"]

routes = web.RouteTableDef()
_CHUNK = 256 * 1024


@routes.post("/api/sessions/{id}/media")
@operation(tags=["messages"], body=FIELDS, read_body=False, body_media={"multipart/form-data": MULTIPART},
           params=sc.SEND_PARAMS, errors=[Conflict, NotOnWhatsApp, RateLimited, Unavailable],
           responses=sc.SEND_ANSWERS)
async def post_media(request: web.Request) -> web.Response:
    """Send an image, video, audio, voice note, document or sticker."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    staged, fields = await staged_upload(request, session)
    to = fields.get("to")
    chat, kind, payload = media.media_send(
        session.ctx.config, str(to) if isinstance(to, int) and not isinstance(to, bool) else to,
        staged, kind=fields.get("kind"), caption=fields.get("caption"), voice=bool(fields.get("voice")),
        reply_to=fields.get("reply_to"), mentions=fields.get("mentions"))
    kept = request.app[SENDS].keep_file(session.id, staged.path)
    try:
        status, result = await queue.answer(request, session, chat, kind, {**payload, "path": str(kept)})
    finally:
        # Refused, or an Idempotency-Key gave an earlier send (with its own file): nothing
        # holds this copy. A queued send holds it until it ends (the queue deletes it then).
        if not request.app[SENDS].store.holds_file(session.id, str(kept)):
            kept.unlink(missing_ok=True)
    return web.json_response(result, status=status)


@routes.get("/api/sessions/{id}/messages/{msg}/media")
@operation(tags=["messages"], errors=[Conflict, PayloadTooLarge, Unavailable], responses={200: Answer(
    "The file, with its own media type (and Content-Disposition when it has a name)",
    media={"*/*": {"type": "string", "format": "binary"}})})
async def get_media(request: web.Request) -> web.StreamResponse:
    """A received (or sent) message's file, decrypted by the page; at most [media]
    max_download_bytes (413 beyond)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    mid = message_id(request.match_info["msg"])
    found = mediastore.saved(session.ctx.config.layout, session.id, mid)
    path, info = found if found is not None else await media.download(session, mid)
    try:
        filename = str(info.get("filename") or "")
        headers = {"Content-Length": str(path.stat().st_size), "Cache-Control": "no-store"}
        if filename:
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        answer = web.StreamResponse(headers=headers)
        answer.content_type = str(info.get("mimetype") or "application/octet-stream").split(";")[0]
        await answer.prepare(request)
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                await answer.write(chunk)
        await answer.write_eof()
        return answer
    finally:
        if found is None:
            path.unlink(missing_ok=True)
