"""Request helpers shared by the route modules (bodies are checked against their declared
schemas by api/spec.py)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from supervisor import jsonlimits
from supervisor.api.keys import BODY_TIMEOUT
from supervisor.errors import InvalidRequest, NotFound, RequestTimeout

__all__ = ["ROW_ID_MAX", "decimal", "json_object", "prefers_html", "row_id"]

#: The largest id SQLite can hold (a signed 64-bit integer).
ROW_ID_MAX = 2**63 - 1
_DECIMAL = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²", "٣"


def decimal(raw: str, what: str, low: int, high: int) -> int:
    """``raw`` as an integer from ``low`` to ``high``, written in ASCII decimal digits;
    InvalidRequest naming ``what`` otherwise."""
    if not _DECIMAL.fullmatch(raw) or not low <= int(raw) <= high:
        raise InvalidRequest(f"{what} must be an integer from {low} to {high}, got {raw[:40]!r}")
    return int(raw)


def row_id(raw: str, what: str) -> int:
    """A database id from a path: not an integer is InvalidRequest, one that no row can have
    (beyond SQLite's signed 64 bits) is NotFound."""
    if not (raw.isascii() and raw.isdigit()):  # ASCII digits only: "²".isdigit() is True
        raise InvalidRequest(f"{what} must be an integer, got {raw[:40]!r}")
    if len(raw.lstrip("0")) > 19 or int(raw) > ROW_ID_MAX:  # int() refuses 4,300+ digits
        raise NotFound(f"{what} {raw[:40]} does not exist")
    return int(raw)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when there is none), or InvalidRequest; a body
    that does not arrive within ``[server] body_timeout_s`` is a RequestTimeout (408)."""
    if not request.body_exists:
        return {}
    timeout_s = request.app[BODY_TIMEOUT]
    try:
        raw = await asyncio.wait_for(request.read(), timeout_s)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_s:g}s") from None
    try:
        body = jsonlimits.loads(raw)
    except ValueError as exc:  # NaN, too deep, not UTF-8, a lone surrogate, not JSON at all
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def _quality(accept: str, media: str) -> float:
    """The q-value ``accept`` gives ``media``: from its most specific matching range."""
    kind = media.split("/")[0]
    best, best_specificity = 0.0, -1
    for item in accept.split(","):
        range_, *params = [part.strip() for part in item.split(";")]
        range_ = range_.lower()
        specificity = {media: 2, f"{kind}/*": 1, "*/*": 0}.get(range_, -1)
        if specificity <= best_specificity:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best, best_specificity = q, specificity
    return best


def prefers_html(request: web.Request) -> bool:
    """True if the client ranks ``text/html`` above JSON (a browser); curl's ``*/*``, a missing
    Accept or ``application/json`` get JSON."""
    accept = request.headers.get("Accept", "")
    return _quality(accept, "text/html") > _quality(accept, "application/json")
