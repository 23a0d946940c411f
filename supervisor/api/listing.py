"""The listing of sessions (``GET /api/sessions``, zapnode's ``GET /sessions``) as JSON, at the
cost of what changed since the last one.

A dashboard or a client polls the listing every second or so, and at a hundred sessions and
more building and encoding every session's object each time was most of a request's cost.
Here each session's JSON is kept (api/jsoncache.py) with the facts it was made of
(api/views.py ``Facts``: its object is a function of them) and its queue's depth, and made
again only when they differ.
Nothing has to tell the cache about a change, so none can be missed: the facts are read anew
at every request (a few attribute reads per session) and compared. The uptime, which changes
all the time, is added to each kept object as it is sent.

In a cluster, a node's own answer to a client merges the other nodes' sessions as dicts
(api/forward.py ``cluster_listing``); the JSON made here answers everywhere else, including
another node asking for this node's sessions.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from supervisor.api.forward import cluster_listing, forwarded
from supervisor.api.jsoncache import encode
from supervisor.api.keys import CLUSTER, LISTING, REGISTRY
from supervisor.api.views import (
    daemon_stats,
    facts,
    queue_depths,
    session_object,
    uptime_s,
)

__all__ = ["listing_body", "listing_response"]


def listing_body(app: web.Application, head: dict[str, Any] | None = None) -> bytes:
    """``{**head, "sessions": [...], "stats": {...}}`` as JSON (api/views.py ``listing``)."""
    kept, depths = app[LISTING], queue_depths(app)
    parts = []
    for session in app[REGISTRY].sessions.values():
        worker = session.live_worker()
        f, depth = facts(session, worker), depths.get(session.id, 0)
        obj = kept.get(session.id, (f, depth))
        if obj is None:
            obj = kept.put(session.id, (f, depth), {**session_object(session, f), "queue_depth": depth})
        uptime = uptime_s(worker)
        parts.append(obj + (b',"uptime_s":null}' if uptime is None else b',"uptime_s":%r}' % uptime))
    kept.round()
    opening = encode(head)[:-1].encode() + b"," if head else b"{"
    return b"".join((opening, b'"sessions":[', b",".join(parts), b'],"stats":',
                     encode(daemon_stats(app)).encode(), b"}"))


async def listing_response(request: web.Request, head: dict[str, Any] | None = None,
                           headers: dict[str, str] | None = None) -> web.Response:
    """The listing's answer, ``head``'s keys first (zapnode's ``success``)."""
    app = request.app
    if app.get(CLUSTER) is not None and not forwarded(request):
        return web.json_response({**(head or {}), **await cluster_listing(request)}, headers=headers)
    return web.Response(body=listing_body(app, head), headers=headers,
                        content_type="application/json", charset="utf-8")
