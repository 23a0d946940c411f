"""The OpenAPI 3.1 document, built from the routes' declarations (api/spec.py), and the docs UI.

    GET /openapi.json        the document (no key: it holds no secret)
    GET /docs                the API reference: our own page rendering the document, with a
    GET /docs/{name}         try-it form (supervisor/api/docs/: plain JS, no build, no CDN, offline)

Every route of the application is in the document and every operation of the document is a
route (tests/unit/test_openapi.py walks the router). aiohttp answers HEAD for every GET: that is
implied, not listed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from supervisor.api.assets import Assets
from supervisor.api.schemas import ERROR, PATH_PARAMS
from supervisor.api.spec import OPERATIONS, Answer, Operation, operation
from supervisor.errors import (
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
)
from supervisor.version import version

__all__ = ["DOCS_DIR", "document", "is_public", "routes"]

DOCS_DIR = Path(__file__).resolve().parent / "docs"
_SECURITY = {
    # The page reads the document and tries routes with fetch, on this daemon only.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_ASSETS = Assets(DOCS_DIR, _SECURITY, (".html", ".js", ".css"))
_DESCRIPTION = """Run many WhatsApp Web sessions on one server: one worker process and one
headless Chrome per session.

Every route but `/health`, `/health/ready`, this document, `/docs` and the dashboard's page
needs the API key, as `X-Api-Key: <key>` or `Authorization: Bearer <key>`. Errors are JSON
`{"error": {"type", "message"}}` with the status of their type (a refused send over a limit adds
`"limit"`); a traceback never reaches a client."""

#: The groups of operations, in the order the docs show them.
_TAGS = {
    "sessions": "Create, watch and control sessions (one Chrome each)",
    "whatsapp": "Log a session in: its QR code, a pairing code; log it out",
    "messages": "Send texts and files (through the send queue), download received files",
    "queue": "A session's send queue: what waits, why, and cancelling",
    "chats": "Chats, messages, contacts and groups of a WORKING session",
    "events": "Server-sent event streams",
    "webhooks": "Webhooks and their deliveries",
    "roles": "Roles: which sessions send for sales, support, …",
    "daemon": "Totals and Prometheus metrics",
    "health": "Liveness and readiness (no key)",
    "cluster": "A cluster's nodes, leases and placement; draining a node",
    "zapnode": "The routes of zapnode, which zapvisor replaces",
    "WhatsappSessionManager": "The routes of WhatsappSessionManager, which zapvisor replaces",
    "dashboard": "The web dashboard (no key)",
    "docs": "This document and its docs page (no key)",
}
routes = web.RouteTableDef()


def is_public(request: web.Request) -> bool:
    """True if the request's route is declared public and its path parameters are what the
    document says they are (``/static/..%2Fx`` is not a dashboard file: it needs the key)."""
    declared = OPERATIONS.get(request.match_info.route.handler)
    if declared is None or not declared.public:
        return False
    return all(re.fullmatch(PATH_PARAMS[name]["pattern"], value) is not None
               for name, value in request.match_info.items() if "pattern" in PATH_PARAMS.get(name, {}))


def _error_answers(op: Operation, path: str) -> dict[int, list[str]]:
    """Status -> the error types that answer it."""
    errors = list(op.errors)
    if not op.public:
        errors.append(Unauthorized)
    if op.body is not None or op.body_media:
        errors += [InvalidRequest, RequestTimeout, PayloadTooLarge]
    if op.params or "{" in path:
        errors.append(InvalidRequest)
    if "{" in path and not op.public:
        errors.append(NotFound)
    by_status: dict[int, list[str]] = {}
    for cls in errors:
        names = by_status.setdefault(cls.status, [])
        if cls.__name__ not in names:
            names.append(cls.__name__)
    return by_status


def _response(answer: Answer) -> dict[str, Any]:
    content = dict(answer.media)
    if answer.schema is not None:
        content["application/json"] = answer.schema
    out: dict[str, Any] = {"description": answer.description}
    if content:
        out["content"] = {media: {"schema": schema} for media, schema in content.items()}
    if answer.headers:
        out["headers"] = {name: {"schema": schema} for name, schema in answer.headers.items()}
    return out


def _operation(op: Operation, method: str, path: str) -> dict[str, Any]:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path.replace("{", "by_")).strip("_") or "root"
    out: dict[str, Any] = {"operationId": f"{method}_{slug}", "summary": op.summary,
                           "description": op.description, "tags": list(op.tags) or ["other"]}
    parameters = [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name],
                   "description": PATH_PARAMS[name].get("description", name)}
                  for name in re.findall(r"{([^}:]+)", path)]
    parameters += [{"name": p.name, "in": p.where, "required": p.required, "schema": p.schema,
                    "description": p.description} for p in op.params]
    if parameters:
        out["parameters"] = parameters
    media = dict(op.body_media)
    if op.body is not None:
        media = {"application/json": op.body, **media}
    if media:
        out["requestBody"] = {"content": {m: {"schema": s} for m, s in media.items()}}
    responses = {str(status): _response(answer) for status, answer in op.responses.items()}
    for status, names in sorted(_error_answers(op, path).items()):
        if str(status) in responses:
            continue
        headers = {"Retry-After": {"schema": {"type": "integer"}}} if status in (429, 503) else {}
        responses[str(status)] = {"description": " or ".join(names),
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                                  **({"headers": headers} if headers else {})}
    out["responses"] = responses
    if op.public:
        out["security"] = []
    return out


def document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s declared routes."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        op = OPERATIONS.get(route.handler)
        if op is None or route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = str(info.get("formatter") or info.get("path"))
        paths.setdefault(path, {})[route.method.lower()] = _operation(op, route.method.lower(), path)
    return {
        "openapi": "3.1.0",
        "info": {"title": "zapvisor", "version": version(), "description": _DESCRIPTION,
                 "license": {"name": "MIT", "identifier": "MIT"}},
        "tags": [{"name": name, "description": text} for name, text in _TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"apiKey": []}, {"bearer": []}],
    }


@routes.get("/openapi.json")
@operation(public=True, tags=["docs"], responses={200: Answer("The OpenAPI 3.1 document", schema={
    "type": "object", "required": ["openapi", "info", "paths"]})})
async def get_document(request: web.Request) -> web.Response:
    """This document."""
    return web.json_response(document(request.app), headers={"Cache-Control": "no-cache"})


@routes.get("/docs")
@operation(public=True, tags=["docs"], responses={200: Answer("The docs page", media={
    "text/html": {"type": "string"}})})
async def docs_page(request: web.Request) -> web.FileResponse:
    """The API reference: /openapi.json rendered, with a try-it form, served from the package."""
    return _ASSETS.response("index.html", "docs")


@routes.get("/docs/{name}")
@operation(public=True, tags=["docs"], errors=[NotFound], responses={200: Answer(
    "One of the docs page's files", media=_ASSETS.media())})
async def docs_asset(request: web.Request) -> web.FileResponse:
    """A file of the docs page (its scripts and style)."""
    return _ASSETS.response(request.match_info["name"], "docs")
