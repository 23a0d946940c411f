"""Cluster routes: the nodes, their leases and where each session runs; draining a node.

    GET  /api/cluster                       nodes (lease age, load, draining) and placement
    POST /api/cluster/nodes/{node}/drain    move every session off the node (stop in order,
                                            snapshot, start elsewhere); it takes no new ones
    POST /api/cluster/nodes/{node}/undrain  the node takes sessions again
    DELETE /api/cluster/nodes/{node}        forget a retired node (its lease gone, its
                                            sessions taken over)
    PUT  /api/cluster/nodes/{node}/tags     {"tags": [...]}: the node's tags ([] clears them)
    GET  /api/cluster/deliveries            the webhook deliveries the cluster gave up on
    POST /api/cluster/deliveries/retry      queue one of them again (cluster/failed.py)

Without ``[cluster] redis_url`` these answer 409: there is no cluster to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from supervisor.api import schemas as sc
from supervisor.api.keys import CLUSTER
from supervisor.api.spec import Answer, Param, operation, params
from supervisor.errors import Conflict, NotFound, Unavailable
from supervisor.sessions.options import node_tags
from supervisor.settings import SESSION_ID_RE

__all__ = ["routes"]

if TYPE_CHECKING:
    from supervisor.cluster.node import ClusterNode

routes = web.RouteTableDef()
_TAGS = ["cluster"]
_NODE = sc.obj({
    "node": sc.STR, "url": sc.STR, "alive": {"type": "boolean"}, "draining": {"type": "boolean"},
    "sessions": sc.INT, "max_sessions": sc.INT, "memory_mb": {"type": ["number", "null"]},
    "lease_age_s": {"type": ["number", "null"], "description": "seconds since its last renewal"},
    "self": {"type": "boolean", "description": "the node that answered"},
    "tags": {**sc.array(sc.STR), "description": "its tags: sessions with node_tags run only where all are"},
})
_PLACED = sc.obj({"session": sc.STR, "node": {"type": ["string", "null"]}, "token": sc.INT,
                  "alive": {"type": "boolean", "description": "its node's lease is live"},
                  "desired": sc.STR})
_STATUS = sc.obj({"node": sc.STR, "lease_s": {"type": "number"}, "snapshots": sc.STR,
                  "nodes": sc.array(_NODE), "sessions": sc.array(_PLACED),
                  "webhook_shards": {"type": "object", "additionalProperties": {"type": ["string", "null"]},
                                     "description": "shard -> the node delivering its webhooks"}})
_ERRORS = [Conflict, Unavailable]


def _cluster(request: web.Request) -> ClusterNode:
    cluster = request.app.get(CLUSTER)
    if cluster is None:
        raise Conflict("this daemon runs alone: set [cluster] redis_url to make it a node")
    return cluster


@routes.get("/api/cluster")
@operation(tags=_TAGS, errors=_ERRORS, responses={200: Answer("The cluster", schema=_STATUS)})
async def cluster_status(request: web.Request) -> web.Response:
    """Every node with its lease and load, and which node owns each session."""
    return web.json_response(await _cluster(request).status())


async def _set_draining(request: web.Request, draining: bool) -> web.Response:
    cluster, node = _cluster(request), request.match_info["node"]
    if node != cluster.node_id:
        url = (await cluster.node_urls()).get(node)
        if url is None:
            raise NotFound(f"no live node {node!r} in the cluster")
        return web.json_response(await cluster.ask(url, request.method, request.path))
    return web.json_response(await cluster.drain() if draining else await cluster.undrain())


_DRAINED = sc.obj({"node": sc.STR, "draining": {"type": "boolean"}, "moved": sc.array(sc.STR)})


@routes.post("/api/cluster/nodes/{node}/drain")
@operation(tags=_TAGS, errors=[*_ERRORS, NotFound], responses={200: Answer(
    "Drained: every session stopped here (snapshot taken) and handed over", schema=_DRAINED)})
async def drain(request: web.Request) -> web.Response:
    """Move every session off the node (stop in order, snapshot, start on the others) so that
    its host can be rebooted; it takes no new session until undrained."""
    return await _set_draining(request, True)


@routes.post("/api/cluster/nodes/{node}/undrain")
@operation(tags=_TAGS, errors=[*_ERRORS, NotFound],
           responses={200: Answer("The node takes sessions again", schema=_DRAINED)})
async def undrain(request: web.Request) -> web.Response:
    """Let the node take sessions again."""
    return await _set_draining(request, False)


@routes.delete("/api/cluster/nodes/{node}")
@operation(tags=_TAGS, errors=[*_ERRORS, NotFound], responses={200: Answer(
    "Forgotten: no longer listed", schema=sc.obj({"node": sc.STR, "forgotten": {"type": "boolean"}}))})
async def forget(request: web.Request) -> web.Response:
    """Take a retired node off the node list (a host given back, a node renamed). Refused (409)
    while its lease is alive or while it still owns sessions: the others take those over one
    lease after it stopped."""
    cluster, node = _cluster(request), request.match_info["node"]
    await cluster.coord.forget_node(node)
    return web.json_response({"node": node, "forgotten": True})


@routes.put("/api/cluster/nodes/{node}/tags")
@operation(tags=_TAGS, errors=[*_ERRORS, NotFound], body=sc.body({"tags": {
    **sc.array({"type": "string", "pattern": SESSION_ID_RE.pattern}, maxItems=16),
    "description": "the node's tags, replacing its previous ones; [] clears them"}}, required=["tags"]),
    responses={200: Answer("The node's tags", schema=sc.obj({"node": sc.STR, "tags": sc.array(sc.STR)}))})
async def set_tags(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Tag a node (a region, a proxy pool, a customer): a session whose ``node_tags`` option
    asks for tags is placed, and taken over, only on nodes that have them all. Kept in Redis
    across the node's restarts; sessions already running stay where they are."""
    cluster, node = _cluster(request), request.match_info["node"]
    tags = node_tags(body["tags"]) or []
    await cluster.coord.set_tags(node, tags)
    return web.json_response({"node": node, "tags": tags})


_MAX_LIMIT = 1000
_FAILED = sc.obj({
    "event_id": {**sc.STR, "description": "the event's stream id"}, "event": sc.STR,
    "session": sc.nullable(sc.STR), "url": sc.STR, "attempts": sc.INT,
    "last_status": sc.nullable(sc.INT), "last_error": sc.nullable(sc.STR),
    "failed_at": sc.NUM, "node": {**sc.STR, "description": "the node that gave up"},
    "status": {"type": "string", "enum": ["failed", "pending"]}})
_RETRY = sc.body({
    "event_id": {"type": "string", "pattern": "^[0-9]{1,20}-[0-9]{1,20}$",
                 "description": "the event's stream id, as listed"},
    "url": {"type": "string", "minLength": 1, "maxLength": 2048, "description": "the receiver, as listed"},
}, required=["event_id", "url"])


@routes.get("/api/cluster/deliveries")
@operation(tags=_TAGS, errors=_ERRORS, params=[
    Param("session", sc.SESSION_ID, "only this session's"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": _MAX_LIMIT, "default": 100},
          "at most this many")],
    responses={200: Answer("The given-up deliveries, newest first", schema=sc.obj({
        "deliveries": sc.array(_FAILED),
        "total": {**sc.INT, "description": "how many the cluster keeps ([webhooks] keep_failed)"}}))})
async def failed_deliveries(request: web.Request) -> web.Response:
    """The webhook deliveries the cluster gave up on, newest first (``?session=``, ``?limit=``):
    each names its event, receiver, attempts, last error and the node that gave up. Secrets are
    never shown."""
    given = params(request)
    found, total = await _cluster(request).events.failed.listing(given.get("session"), given["limit"])
    return web.json_response({"deliveries": found, "total": total})


@routes.post("/api/cluster/deliveries/retry")
@operation(tags=_TAGS, errors=[*_ERRORS, NotFound], body=_RETRY,
           responses={200: Answer("Queued again: its record, status pending", schema={
               **_FAILED, "properties": {**_FAILED["properties"], "shard": sc.INT, "retried_at": sc.NUM}})})
async def retry_failed_delivery(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Send a given-up delivery again (``{"event_id", "url"}``, as listed): it leaves the list
    and goes on its session's shard, signed with the receiver's secret as configured now, and is
    retried (and given up again) as any delivery. 404 if no such delivery was given up; 409 if
    the cluster's event stream no longer holds its event, or no webhook has that URL any more."""
    retried = await _cluster(request).events.failed.retry(body["event_id"], body["url"])
    return web.json_response(retried)
