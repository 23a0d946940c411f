"""Request-body helpers shared by the route modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from supervisor.errors import InvalidRequest

__all__ = ["json_object", "check_fields"]


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when there is none), or InvalidRequest."""
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def check_fields(body: dict[str, Any], allowed: dict[str, type | tuple[type, ...]]) -> None:
    """Reject unknown fields and fields of the wrong type, naming them."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    for key, kind in allowed.items():
        if key in body and not isinstance(body[key], kind):
            raise InvalidRequest(f"field {key!r} has the wrong type: {body[key]!r}")
