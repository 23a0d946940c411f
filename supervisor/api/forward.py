"""One API on every node of a cluster: a request about a session another node owns is forwarded
to that node, and the listing of sessions is the cluster's.

The forwarded request carries the cluster's own key (never the client's, which the receiving
node checked already and which may differ between nodes) and ``X-Zapvisor-Forwarded-By``: a
node answers such a request itself, never forwarding it again, so a disagreement about who owns
a session can never loop. Answers are streamed back as they come (event streams included).
Without a cluster, the middleware is not installed at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from supervisor.api.keys import CLUSTER, ROLES
from supervisor.api.views import listing
from supervisor.cluster import FORWARDED_BY
from supervisor.errors import InvalidRequest, Unavailable, ZapvisorError
from supervisor.logs import get_logger
from supervisor.sessions.options import node_tags

__all__ = ["FORWARDED_BY", "PICKED", "cluster_listing", "cluster_middleware", "forwarded",
           "gather_from_peers", "picked_session"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the client library sets itself.
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                  "trailer", "transfer-encoding", "upgrade", "host", "content-length",
                  "x-api-key", "authorization"})
#: Routes that create a session: the node with the most room makes it.
_CREATES = frozenset({("POST", "/api/sessions"), ("POST", "/sessions")})
#: Routes that name their session in the body (``sessionId`` or ``session``), or a ``role`` (the
#: cluster's round-robin picks one), or neither (the default session): sent to its owner.
_ROUTED = frozenset({("POST", "/api/send"), ("POST", "/webhook/test")})
#: The session this node picked for a routed send, sent along with it: the owner sends through
#: that one (picking again could choose another node's session).
PICKED = "X-Zapvisor-Session"
_PICKED_KEY = "zapvisor.picked"
#: Session routes every node answers itself: the cluster's event stream is read everywhere.
_EVERYWHERE = frozenset({"/api/sessions/{id}/events"})
_log = get_logger()


def forwarded(request: web.Request) -> bool:
    """True if another node of the cluster sent this request (and its key was the cluster's)."""
    return FORWARDED_BY in request.headers


def picked_session(request: web.Request) -> str | None:
    """The session a node of the cluster picked for this routed send (a role's, or the default
    session), or None: the handler picks itself."""
    picked = request.get(_PICKED_KEY)
    if picked is None and forwarded(request):
        picked = request.headers.get(PICKED)
    return picked if isinstance(picked, str) and picked else None


async def _relay(request: web.Request, url: str) -> web.StreamResponse:
    """Relay to ``url``, for as long as its node lives: a node that froze (or lost its network)
    holds the request until its lease expires, then the client gets a 503 (its session is moving)
    instead of waiting for ever; an answer already under way is cut short."""
    cluster = request.app[CLUSTER]
    started: list[web.StreamResponse] = []
    relay = asyncio.ensure_future(_proxy(request, url, started))
    watch = asyncio.ensure_future(cluster.until_gone(url))
    try:
        await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay, watch):
            task.cancel()
        await asyncio.gather(relay, watch, return_exceptions=True)
    if not relay.cancelled():
        return relay.result()
    if started:
        return started[0]
    raise Unavailable(f"the node at {url} stopped answering and its lease expired: the session "
                      "moves to another node", retry_after_s=max(1, round(cluster.lease_s / 3)))


async def _proxy(request: web.Request, url: str, started: list[web.StreamResponse]) -> web.StreamResponse:
    cluster = request.app[CLUSTER]
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    headers.update({"X-Api-Key": cluster.key, FORWARDED_BY: cluster.node_id})
    if request.get(_PICKED_KEY):
        headers[PICKED] = request[_PICKED_KEY]
    body = await request.read() if request.body_exists else None
    try:
        async with cluster.http.request(request.method, url + request.rel_url.path_qs,
                                        headers=headers, data=body, allow_redirects=False) as upstream:
            answer = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP})
            await answer.prepare(request)
            started.append(answer)
            async for chunk in upstream.content.iter_any():
                await answer.write(chunk)
            await answer.write_eof()
            return answer
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise Unavailable(f"the node at {url} that runs this session cannot be reached: "
                          f"{exc.__class__.__name__}", retry_after_s=1) from None


@web.middleware
async def cluster_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Forward a session's request to its owner; place a new session on the emptiest node."""
    cluster = request.app[CLUSTER]
    if forwarded(request):
        return await handler(request)
    route = (request.method, request.path)
    session_id = request.match_info.get("id")
    if route in _ROUTED:  # the session is named in the body, or picked by role, or the default
        body = await _json_body(request)
        named = body.get("sessionId", body.get("session"))
        session_id = named if isinstance(named, str) else None
        if named is None:
            session_id = request[_PICKED_KEY] = await _pick(request, body.get("role"))
    elif getattr(request.match_info.route.resource, "canonical", "") in _EVERYWHERE:
        session_id = None  # answered here
    url = None
    if session_id is not None and session_id not in cluster.local_ids():
        url = await cluster.owner_url(session_id)
    elif route in _CREATES:
        body = await _json_body(request)
        node = body.get("node")
        try:
            tags = frozenset(node_tags(body.get("node_tags")) or ())
        except InvalidRequest:
            tags = frozenset()  # placed anyhow: the node that gets it answers the 400
        url = await cluster.placement_url(node if isinstance(node, str) and node else None, tags)
    return await (_relay(request, url) if url is not None else handler(request))


async def _pick(request: web.Request, role: object) -> str | None:
    """The session a send by ``role`` (or to the default session) goes through, chosen once for
    the cluster; None when the body is wrong or nothing can send, for the handler to answer
    after it checked the whole body."""
    if role is not None and not isinstance(role, str):
        return None
    try:
        return await request.app[ROLES].route(None, role)
    except ZapvisorError:
        return None


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or {} (aiohttp keeps the body: the handler reads it
    again, and answers a bad one)."""
    if request.content_type != "application/json" or not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def gather_from_peers(request: web.Request, path: str) -> list[tuple[str, dict[str, Any]]]:
    """``GET path`` on every other live node (answering for itself only): (node id, JSON) of
    those that answered; a node that does not answer in time is left out and logged."""
    cluster = request.app[CLUSTER]
    peers = await cluster.peer_urls()

    async def one(node: str, url: str) -> tuple[str, dict[str, Any]] | None:
        headers = {"X-Api-Key": cluster.key, FORWARDED_BY: cluster.node_id}
        try:
            async with cluster.http.get(url + path, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=cluster.peer_timeout_s)) as resp:
                if resp.status == 200:
                    return node, await resp.json()
                _log.warning("cluster.peer_refused", node=node, path=path, status=resp.status)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            _log.warning("cluster.peer_unreachable", node=node, path=path, error=exc.__class__.__name__)
        return None

    answers = await asyncio.gather(*(one(node, url) for node, url in peers.items()))
    return [answer for answer in answers if answer is not None]


async def cluster_listing(request: web.Request) -> dict[str, Any]:
    """The sessions and totals (api/views.py ``listing``): in a cluster, unless another node
    asks, every live node's sessions, each with its ``node``; the totals stay this node's."""
    body = listing(request.app)
    cluster = request.app.get(CLUSTER)
    if cluster is None or forwarded(request):
        return body
    merged = [{**s, "node": cluster.node_id} for s in body["sessions"]]
    for node, answer in await gather_from_peers(request, "/api/sessions"):
        merged += [{**s, "node": node} for s in answer.get("sessions", [])]
    return {**body, "sessions": sorted(merged, key=lambda s: str(s["id"]))}
