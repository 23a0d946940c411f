"""Webhook routes: a session's own webhooks, the outbox's deliveries and their retry; and
``GET /metrics`` (Prometheus; it needs the API key like every route but /health)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from supervisor.api import schemas as sc
from supervisor.api.httputil import row_id
from supervisor.api.keys import HUB, REGISTRY
from supervisor.api.sessions import WEBHOOKS
from supervisor.api.spec import Answer, Param, operation, params
from supervisor.errors import Conflict
from supervisor.events.outbox import STATUSES

__all__ = ["routes"]

routes = web.RouteTableDef()
_MAX_LIMIT = 1000
_TAGS = ["webhooks"]
_HOOK = sc.obj({"url": sc.STR, "events": sc.array(sc.STR), "secret_set": sc.BOOL})
_HOOKS = Answer("The session's webhooks", schema=sc.obj({"session": sc.STR, "webhooks": sc.array(_HOOK)}))
_COUNTS = {"type": "object", "additionalProperties": sc.INT, "description": "deliveries by status"}
_DELIVERY = sc.obj({
    "id": sc.INT, "event_id": sc.INT, "event": sc.STR, "session": sc.nullable(sc.STR), "url": sc.STR,
    "status": {"type": "string", "enum": list(STATUSES)}, "attempts": sc.INT,
    "next_at": sc.nullable(sc.NUM), "created_at": sc.NUM, "updated_at": sc.NUM,
    "last_status": sc.nullable(sc.INT), "last_error": sc.nullable(sc.STR)})


def _hooks_body(request: web.Request, session_id: str) -> web.Response:
    hooks = request.app[HUB].webhooks.session_hooks(session_id)
    return web.json_response({"session": session_id, "webhooks": [h.public() for h in hooks]})


@routes.get("/api/sessions/{id}/webhooks")
@operation(tags=_TAGS, responses={200: _HOOKS})
async def get_session_webhooks(request: web.Request) -> web.Response:
    """A session's own webhooks (secrets are never shown, only whether one is set)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    return _hooks_body(request, session.id)


@routes.put("/api/sessions/{id}/webhooks")
@operation(tags=_TAGS, body=sc.body({"webhooks": {**WEBHOOKS, "description": "[] removes them all"}},
                                    required=["webhooks"]), responses={200: _HOOKS})
async def put_session_webhooks(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Replace a session's webhooks: ``{"webhooks": [{"url", "events"?, "secret"?}]}``."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    webhooks = request.app[HUB].webhooks
    hooks = webhooks.parse(body["webhooks"])
    await webhooks.check_receivers(hooks)
    webhooks.set_session_hooks(session.id, hooks)
    return _hooks_body(request, session.id)


@routes.get("/api/webhooks")
@operation(tags=_TAGS, responses={200: Answer("The global webhook and the deliveries' counts", schema=sc.obj(
    {"global": sc.nullable(_HOOK), "deliveries": _COUNTS}))})
async def webhooks_overview(request: web.Request) -> web.Response:
    """The global webhook (from the config) and how many deliveries are in each status."""
    webhooks = request.app[HUB].webhooks
    hook = webhooks.global_hook
    return web.json_response({"global": hook.public() if hook else None,
                              "deliveries": webhooks.outbox.counts()})


@routes.get("/api/webhooks/deliveries")
@operation(tags=_TAGS, params=[
    Param("status", {"type": "string", "enum": list(STATUSES)}, "only deliveries in this status"),
    Param("session", {"type": "string", "maxLength": 64}, "only this session's"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": _MAX_LIMIT, "default": 100},
          "at most this many")],
    responses={200: Answer("The deliveries", schema=sc.obj({"deliveries": sc.array(_DELIVERY),
                                                            "counts": _COUNTS}))})
async def list_deliveries(request: web.Request) -> web.Response:
    """Deliveries, newest first: ``?status=failed|pending|delivered``, ``?session=``,
    ``?limit=`` (default 100). Each says how many attempts it took and its last error."""
    given = params(request)
    outbox = request.app[HUB].outbox
    found = outbox.select(given.get("status"), given.get("session"), given["limit"])
    return web.json_response({"deliveries": [d.public() for d in found],
                              "counts": outbox.counts()})


def _delivery_id(request: web.Request) -> int:
    return row_id(request.match_info["delivery_id"], "webhook delivery")


@routes.get("/api/webhooks/deliveries/{delivery_id}")
@operation(tags=_TAGS, responses={200: Answer("The delivery and its event's payload", schema={
    **_DELIVERY, "properties": {**_DELIVERY["properties"], "payload": sc.ANY}})})
async def get_delivery(request: web.Request) -> web.Response:
    """One delivery, with the event it carries."""
    delivery = request.app[HUB].outbox.get(_delivery_id(request))
    return web.json_response({**delivery.public(), "payload": delivery.event["payload"]})


@routes.post("/api/webhooks/deliveries/{delivery_id}/retry")
@operation(tags=_TAGS, errors=[Conflict], responses={200: Answer("Re-queued", schema=_DELIVERY)})
async def retry_delivery(request: web.Request) -> web.Response:
    """Re-queue a failed delivery (409 unless it failed); it is sent next in its lane."""
    delivery = request.app[HUB].webhooks.retry(_delivery_id(request))
    return web.json_response(delivery.public())


@routes.get("/metrics")
@operation(tags=["daemon"], responses={200: Answer("Prometheus text format 0.0.4", media={
    "text/plain": {"type": "string"}})})
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition, from the daemon's own registry."""
    body = request.app[HUB].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
