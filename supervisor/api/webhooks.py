"""Webhook routes: a session's own webhooks, the outbox's deliveries and their retry; and
``GET /metrics`` (Prometheus; it needs the API key like every route but /health)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from supervisor.api.httputil import check_fields, decimal, json_object, row_id
from supervisor.api.keys import HUB, REGISTRY
from supervisor.errors import InvalidRequest
from supervisor.events.outbox import STATUSES

__all__ = ["routes"]

routes = web.RouteTableDef()
_MAX_LIMIT = 1000


def _hooks_body(request: web.Request, session_id: str) -> web.Response:
    hooks = request.app[HUB].webhooks.session_hooks(session_id)
    return web.json_response({"session": session_id, "webhooks": [h.public() for h in hooks]})


@routes.get("/api/sessions/{id}/webhooks")
async def get_session_webhooks(request: web.Request) -> web.Response:
    """A session's own webhooks (secrets are never shown, only whether one is set)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    return _hooks_body(request, session.id)


@routes.put("/api/sessions/{id}/webhooks")
async def put_session_webhooks(request: web.Request) -> web.Response:
    """Replace a session's webhooks: ``{"webhooks": [{"url", "events"?, "secret"?}]}``."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    body = await json_object(request)
    check_fields(body, {"webhooks": list})
    if "webhooks" not in body:
        raise InvalidRequest("field 'webhooks' is required (use [] to remove them all)")
    webhooks = request.app[HUB].webhooks
    hooks = webhooks.parse(body["webhooks"])
    await webhooks.check_receivers(hooks)
    webhooks.set_session_hooks(session.id, hooks)
    return _hooks_body(request, session.id)


@routes.get("/api/webhooks")
async def webhooks_overview(request: web.Request) -> web.Response:
    """The global webhook (from the config) and how many deliveries are in each status."""
    webhooks = request.app[HUB].webhooks
    hook = webhooks.global_hook
    return web.json_response({"global": hook.public() if hook else None,
                              "deliveries": webhooks.outbox.counts()})


@routes.get("/api/webhooks/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Deliveries, newest first: ``?status=failed|pending|delivered``, ``?session=``,
    ``?limit=`` (default 100). Each says how many attempts it took and its last error."""
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    limit = decimal(request.query.get("limit", "100"), "limit", 1, _MAX_LIMIT)
    outbox = request.app[HUB].outbox
    found = outbox.select(status, request.query.get("session"), limit)
    return web.json_response({"deliveries": [d.public() for d in found],
                              "counts": outbox.counts()})


def _delivery_id(request: web.Request) -> int:
    return row_id(request.match_info["delivery_id"], "webhook delivery")


@routes.get("/api/webhooks/deliveries/{delivery_id}")
async def get_delivery(request: web.Request) -> web.Response:
    """One delivery, with the event it carries."""
    delivery = request.app[HUB].outbox.get(_delivery_id(request))
    return web.json_response({**delivery.public(), "payload": delivery.event["payload"]})


@routes.post("/api/webhooks/deliveries/{delivery_id}/retry")
async def retry_delivery(request: web.Request) -> web.Response:
    """Re-queue a failed delivery (409 unless it failed); it is sent next in its lane."""
    delivery = request.app[HUB].webhooks.retry(_delivery_id(request))
    return web.json_response(delivery.public())


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition, from the daemon's own registry."""
    body = request.app[HUB].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
