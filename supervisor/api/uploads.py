"""A file to send, as a request brings it: JSON with base64 ``data``, JSON with a ``url`` the
daemon fetches, or ``multipart/form-data`` with a ``file`` part. Each is streamed into the
session's media scratch folder with a size cap (the largest ``[media]`` limit; the kind's own
limit is checked once the kind is known), so a large file never sits in the daemon's memory
(base64 JSON excepted: use multipart or a URL for large files).

URLs are fetched behind the webhooks' address rule (supervisor.netpolicy, events.netguard): only
public addresses unless ``[media] allow_private_networks``, checked for the URL and for every
address its name resolves to at connection time; redirects are followed by hand (at most
three), each checked the same way; the whole fetch within ``[media] url_timeout_s``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from yarl import URL

from supervisor import jsonlimits
from supervisor.api import schemas as sc
from supervisor.api.keys import BODY_TIMEOUT
from supervisor.api.spec import check_body
from supervisor.errors import InvalidRequest, PayloadTooLarge, RequestTimeout
from supervisor.events.netguard import BlockedAddress, PublicResolver
from supervisor.netpolicy import ONLY_PUBLIC, url_problem
from supervisor.sessions import media
from supervisor.sessions.session import Session
from supervisor.settings import MediaConfig
from worker import protocol

__all__ = ["FIELDS", "MULTIPART", "staged_upload"]

_FIELD_PROPS: dict[str, Any] = {
    "to": {"type": ["string", "integer"], "description": "a phone number or a chat id"},
    "kind": {"type": "string", "enum": [str(kind) for kind in protocol.MediaKind],
             "description": "default: from the file's type (ptt: a voice note)"},
    "caption": sc.STR, "filename": sc.STR, "mimetype": sc.STR,
    "voice": {"type": "boolean", "description": "an audio file as a voice note"},
    "reply_to": {"type": "string", "description": "the id of the message to quote"},
    "mentions": sc.array(sc.STR, description="ids of the mentioned contacts"),
}
#: A send-media request as JSON: the fields and the file as base64 ``data`` or a ``url``
#: (one of them). Multipart requests are checked against it too, once their text parts are read.
FIELDS = sc.body({**_FIELD_PROPS, "data": {"type": "string", "contentEncoding": "base64",
                                           "description": "the file, base64"},
                  "url": {"type": "string", "description": "a URL the daemon fetches the file from"}},
                 required=["to"])
#: The same as multipart/form-data: a ``file`` part and the fields as text parts.
MULTIPART = {"type": "object", "required": ["to"], "properties": {
    "file": {"type": "string", "format": "binary"}, **_FIELD_PROPS,
    "url": FIELDS["properties"]["url"],
    "mentions": {"type": "string", "description": "ids, comma-separated"}}}
_CHUNK = 64 * 1024
_MAX_FIELD = 70 * 1024  # a multipart text field (a caption of 65 536 characters fits)
_MAX_REDIRECTS = 3


def _for_media(problem: str) -> str:
    """The address rule's words (said of webhook receivers) said of media URLs."""
    return problem.replace(ONLY_PUBLIC, "only media URLs on public addresses are allowed unless "
                           "[media] allow_private_networks = true")


def _largest(config: MediaConfig) -> int:
    return max(config.max_bytes(kind) for kind in ("image", "video", "audio", "document", "sticker"))


async def _read(stream: aiohttp.StreamReader | aiohttp.BodyPartReader, timeout_s: float) -> bytes:
    try:
        return await asyncio.wait_for(stream.read_chunk(_CHUNK) if isinstance(stream, aiohttp.BodyPartReader)
                                      else stream.read(_CHUNK), timeout_s)
    except TimeoutError:
        raise RequestTimeout(f"the request body stalled for {timeout_s:g}s") from None


async def _json_body(request: web.Request, limit: int) -> dict[str, Any]:
    raw, timeout = bytearray(), request.app[BODY_TIMEOUT]
    cap = limit * 4 // 3 + _MAX_FIELD * 2
    while chunk := await _read(request.content, timeout):
        raw += chunk
        if len(raw) > cap:
            raise PayloadTooLarge(f"the request body is larger than {cap} bytes (base64 of the "
                                  "largest file [media] allows); send large files as multipart")
    try:
        body = jsonlimits.loads(bytes(raw))
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


async def _multipart(request: web.Request, staged: media.Staged, limit: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    timeout = request.app[BODY_TIMEOUT]
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
            raise InvalidRequest("every multipart part needs a name")
        if part.name == "file":
            if staged.size or staged.filename:
                raise InvalidRequest("give one file part")
            staged.filename = part.filename or ""
            given = part.headers.get("Content-Type", "")
            staged.mimetype = None if given in ("", "application/octet-stream") else given
            fd = staged.open()
            try:
                while chunk := await _read(part, timeout):
                    staged.add(fd, chunk, limit)
            finally:
                os.close(fd)
            continue
        value = await part.read(decode=True)
        if len(value) > _MAX_FIELD:
            raise InvalidRequest(f"field {part.name!r} is too long")
        text = value.decode("utf-8", "replace")
        if part.name == "voice":
            fields["voice"] = text.strip().lower() in ("1", "true", "yes", "on")
        elif part.name == "mentions":
            fields.setdefault("mentions", []).extend(m.strip() for m in text.split(",") if m.strip())
        else:
            fields[part.name] = text
    return fields


def _write(staged: media.Staged, data: bytes, limit: int) -> None:
    fd = staged.open()
    try:
        for start in range(0, len(data), _CHUNK):
            staged.add(fd, data[start:start + _CHUNK], limit)
    finally:
        os.close(fd)


async def _fetch(url: str, staged: media.Staged, limit: int, config: MediaConfig) -> None:
    resolver = None if config.allow_private_networks else PublicResolver()
    timeout = aiohttp.ClientTimeout(total=config.url_timeout_s)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver),
                                         timeout=timeout) as client:
            for _ in range(_MAX_REDIRECTS + 1):
                problem = url_problem(url, config.allow_private_networks)
                if problem is not None:
                    raise InvalidRequest(_for_media(f"media url {url[:200]} {problem}"))
                async with client.get(url, allow_redirects=False) as answer:
                    if answer.status in (301, 302, 303, 307, 308) and "Location" in answer.headers:
                        url = str(URL(url).join(URL(answer.headers["Location"])))
                        continue
                    if answer.status != 200:
                        raise InvalidRequest(f"media url answered HTTP {answer.status}")
                    if (answer.content_length or 0) > limit:
                        raise PayloadTooLarge(f"the file at the url has {answer.content_length} bytes; "
                                              f"at most {limit} are allowed")
                    if answer.content_type not in ("", "application/octet-stream"):
                        staged.mimetype = staged.mimetype or answer.content_type
                    staged.filename = staged.filename or unquote(URL(url).name)
                    fd = staged.open()
                    try:
                        async for chunk in answer.content.iter_chunked(_CHUNK):
                            staged.add(fd, chunk, limit)
                    finally:
                        os.close(fd)
                    return
            raise InvalidRequest(f"media url redirects more than {_MAX_REDIRECTS} times")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, BlockedAddress):  # a name resolving to a private address
            raise InvalidRequest(_for_media(f"media url {url[:200]}: {exc.os_error}")) from None
        raise InvalidRequest(f"media url could not be fetched: {exc}") from None
    except (aiohttp.ClientError, OSError) as exc:  # refused, unreachable
        raise InvalidRequest(f"media url could not be fetched: {exc}") from None
    except TimeoutError:
        raise InvalidRequest(f"media url did not deliver within {config.url_timeout_s:g}s "
                             "([media] url_timeout_s)") from None


async def staged_upload(request: web.Request, session: Session) -> tuple[media.Staged, dict[str, Any]]:
    """The request's file, staged in the session's scratch folder, and its other fields
    (checked against FIELDS). The caller owns the staged file (media.send_media deletes it)."""
    config = session.ctx.config.media
    limit = _largest(config)
    staged = media.Staged(media.scratch_file(session))
    try:
        if request.content_type == "multipart/form-data":
            try:
                fields = await _multipart(request, staged, limit)
            except (BadHttpMessage, ValueError, RuntimeError) as exc:
                # aiohttp's multipart reader: a part's malformed headers, a bad boundary, an
                # unknown Content-(Transfer-)Encoding (RuntimeError) -- all the client's doing.
                raise InvalidRequest(f"the multipart body is malformed: {str(exc).strip()[:200]}") from None
            if not staged.size and "url" not in fields:
                raise InvalidRequest("multipart requests need a part named file (or a url field)")
        else:
            fields = await _json_body(request, limit)
        check_body(fields, FIELDS)
        staged.filename = fields.get("filename") or staged.filename
        staged.mimetype = fields.get("mimetype") or staged.mimetype
        sources = [key for key in ("data", "url") if key in fields] + (["file"] if staged.size else [])
        if len(sources) != 1:
            raise InvalidRequest("give the file as exactly one of data (base64), url, or a multipart file")
        if "data" in fields:
            try:
                data = base64.b64decode(fields.pop("data"), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequest("data must be base64") from None
            await asyncio.to_thread(_write, staged, data, limit)
        elif "url" in fields:
            await _fetch(fields.pop("url"), staged, limit, config)
    except BaseException:
        staged.discard()
        raise
    return staged, fields
