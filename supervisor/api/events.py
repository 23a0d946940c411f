"""Server-sent event streams: ``GET /api/events`` and ``GET /api/sessions/{id}/events``.

Each SSE message has ``id:`` (the event id), ``event:`` (its name) and ``data:`` (the whole
event as JSON). ``?events=session.status,message.*`` filters by name. A client that reconnects
with ``Last-Event-ID`` (or ``?last_event_id=``) first gets what it missed from the bus's bounded
history; if the history no longer reaches back that far, an unnumbered ``gap`` message says
which ids are gone. Idle streams carry a ``: ping`` comment every ``sse_ping_interval_s``.
``?exclude=session.resource`` leaves names out (same syntax as ``events``).

In a cluster (``[cluster] redis_url``) every node streams the whole cluster's events from
Redis (supervisor/cluster/feed.py): ``id:`` is the event's stream id (``<ms>-<seq>``, also its
``"id"``, with ``"node"`` the node that published it) and ``Last-Event-ID`` takes one; a
session's stream is answered by whichever node is asked, wherever the session runs.

``?format=json`` answers at once instead of streaming: ``{"events": [...], "last_id",
"oldest_id"}``, the latest ``?limit=`` (default 50, at most 1000) events of the filter still
held in the history, oldest first (after ``Last-Event-ID`` when given). The history is the
bus's (``[events] history``, reloaded from the journal at start), so this survives a restart:
the dashboard's "Latest activity" reads it.

A client that falls ``subscriber_queue`` events behind is dropped by the bus (it may reconnect
and resume); one that accepts no bytes for ``sse_send_timeout_s`` is disconnected. Neither can
block the bus or the other streams. At most ``max_sse_clients`` streams are open at once:
one more is a 503. On daemon shutdown every stream ends cleanly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from supervisor.api import schemas as sc
from supervisor.api.httputil import ROW_ID_MAX, decimal
from supervisor.api.keys import CLUSTER, HUB, REGISTRY
from supervisor.api.spec import Answer, Param, operation, params
from supervisor.cluster import streamids
from supervisor.errors import InvalidRequest, NotFound, Unavailable
from supervisor.events.bus import Event, Subscription, matches, parse_patterns
from supervisor.logs import get_logger

__all__ = ["routes"]

routes = web.RouteTableDef()
_log = get_logger()
_MAX_LIMIT = 1000
_FILTER = {"type": "string", "maxLength": 1000}
#: An event id: an integer on one host, a stream id ("<ms>-<seq>") in a cluster.
_ID = {"type": ["integer", "string"], "description": "an integer on one host, a stream id "
       "such as 1700000000000-0 in a cluster"}
_EVENT = sc.obj({"id": _ID, "event": sc.STR, "session": sc.nullable(sc.STR),
                 "timestamp": sc.ANY, "payload": sc.ANY})
_STREAM = Answer(
    "Server-sent events (id: the event id, event: its name, data: the event as JSON); with "
    "?format=json, the latest events at once",
    schema=sc.obj({"events": sc.array(_EVENT), "last_id": _ID, "oldest_id": _ID}),
    media={"text/event-stream": {"type": "string"}})
_AFTER_RULE = ("Last-Event-ID (an event id) must be an integer (one host) or a stream id such as "
               "1700000000000-0 (a cluster)")
_PARAMS = [
    Param("events", _FILTER, "only these events, comma-separated: names or families "
          "(session.status,message.*)"),
    Param("exclude", _FILTER, "leave these out (same syntax as events)"),
    Param("format", {"type": "string", "enum": ["sse", "json"], "default": "sse"},
          "json: answer at once with the latest events still in the history"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": _MAX_LIMIT, "default": 50},
          "format=json: at most this many (the latest)"),
    Param("last_event_id", {"type": "string", "pattern": streamids.PATTERN, "maxLength": 41,
                            "x-message": _AFTER_RULE + ", got {value}"},
          "resume after this event id (as the Last-Event-ID header does)"),
    Param("Last-Event-ID", {"type": "string", "maxLength": 41}, "resume after this event id "
          "(what an EventSource sends when it reconnects)", where="header"),
]


def _last_event_id(request: web.Request) -> int | str | None:
    """The id to resume after: an integer on one host, a stream id in a cluster."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None or raw.strip() == "":
        raw = params(request).get("last_event_id")
    if raw is None:
        return None
    if CLUSTER not in request.app:
        return decimal(raw.strip(), "Last-Event-ID (an event id)", 0, ROW_ID_MAX)
    parsed = streamids.parse(raw)
    if parsed is None:
        raise InvalidRequest(f"{_AFTER_RULE}, got {raw[:45]!r}")
    return parsed


@routes.get("/api/events")
@operation(tags=["events"], params=_PARAMS, errors=[Unavailable], responses={200: _STREAM})
async def all_events(request: web.Request) -> web.StreamResponse:
    """Every event of every session, as server-sent events (``?format=json``: the latest)."""
    return await _stream(request, None)


@routes.get("/api/sessions/{id}/events")
@operation(tags=["events"], params=_PARAMS, errors=[Unavailable], responses={200: _STREAM})
async def session_events(request: web.Request) -> web.StreamResponse:
    """One session's events, as server-sent events (``?format=json``: the latest)."""
    session_id, cluster = request.match_info["id"], request.app.get(CLUSTER)
    try:
        request.app[REGISTRY].get(session_id)
    except NotFound:
        if cluster is None or await cluster.coord.record(session_id) is None:
            raise
    return await _stream(request, session_id)


def _patterns(request: web.Request, name: str) -> tuple[str, ...]:
    try:
        return parse_patterns(params(request).get(name, ""))
    except ValueError as exc:
        raise InvalidRequest(f"{name} filter: {exc}") from None


def _selector(request: web.Request, session: str | None) -> Callable[[Event], bool]:
    """What ``?events=`` selects and ``?exclude=`` does not, of ``session`` (None: all)."""
    patterns, excluded = _patterns(request, "events"), _patterns(request, "exclude")

    def wants(event: Event) -> bool:
        return ((session is None or event["session"] == session)
                and matches(patterns, event["event"])
                and not (excluded and matches(excluded, event["event"])))
    return wants


async def _latest(request: web.Request, wants: Callable[[Event], bool]) -> web.Response:
    limit, after = params(request)["limit"], _last_event_id(request)
    cluster = request.app.get(CLUSTER)
    if cluster is not None:
        found, last, oldest = await cluster.events.feed.latest(
            str(after) if after is not None else None, limit, wants)
        return web.json_response({"events": found, "last_id": last, "oldest_id": oldest})
    bus = request.app[HUB].bus
    events = bus.history(int(after or 0), wants)[-limit:]
    return web.json_response({"events": events, "last_id": bus.last_id, "oldest_id": bus.oldest_id})


async def _stream(request: web.Request, session: str | None) -> web.StreamResponse:
    hub = request.app[HUB]
    settings = hub.config.events
    wants = _selector(request, session)
    if params(request)["format"] == "json":
        return await _latest(request, wants)
    after = _last_event_id(request)
    cluster = request.app.get(CLUSTER)
    bus = hub.bus
    if bus.subscribers + (cluster.events.feed.subscribers if cluster else 0) >= settings.max_sse_clients:
        hub.metrics.sse_refused()
        raise Unavailable(f"too many event streams open ({settings.max_sse_clients}, "
                          "[events] max_sse_clients); try again later")
    if cluster is not None:
        feed, since = cluster.events.feed, str(after) if after is not None else None
        # Subscribe, then note where the feed is: the backlog reads up to there, the
        # subscription has what follows; nothing falls in a gap, nothing comes twice.
        with feed.subscribe(lambda e: wants(e) and streamids.is_after(str(e["id"]), since)) as sub:
            gap, backlog = (await feed.backlog(since, feed.position, wants)) if since else (None, [])
            return await _serve(request, sub, gap, backlog, session, after)
    # Subscribe, then read the history, with no await in between: nothing falls in a gap.
    with bus.subscribe(wants) as sub:
        backlog = bus.history(int(after), wants) if after is not None else []
        missed: dict[str, Any] | None = None
        if after is not None and int(after) + 1 < bus.oldest_id:
            missed = {"first_missing": int(after) + 1, "last_missing": bus.oldest_id - 1}
        return await _serve(request, sub, missed, backlog, session, after)


async def _serve(request: web.Request, sub: Subscription, gap: dict[str, Any] | None,
                 backlog: list[Event], session: str | None, after: int | str | None) -> web.StreamResponse:
    """Send the gap (if any), the backlog, then what the subscription gets, until it ends."""
    settings = request.app[HUB].config.events
    resp = EventSourceResponse(ping_interval=settings.sse_ping_interval_s,
                               send_timeout=settings.sse_send_timeout_s)
    await resp.prepare(request)
    sent, why = 0, "client left"
    try:
        if gap is not None:
            await resp.send(json.dumps(gap), event="gap")
        for old in backlog:
            await _send(resp, old)
        sent = len(backlog)
        while True:
            event = await sub.get(timeout_s=settings.sse_ping_interval_s)
            if event is None:
                if sub.closed is not None:
                    why = sub.closed
                    break
                if not resp.is_connected():
                    break  # the ping found the client gone
                continue
            await _send(resp, event)
            sent += 1
    except (ConnectionResetError, TimeoutError) as exc:
        why = "stalled" if isinstance(exc, TimeoutError) else "client left"
    _log.info("events.stream_ended", session_id=session, reason=why, sent=sent,
              resumed_from=after)
    resp.stop_streaming()
    await resp.wait()  # the library's ping task, ended just above
    return resp


async def _send(resp: EventSourceResponse, event: dict[str, Any]) -> None:
    await resp.send(json.dumps(event), id=str(event["id"]), event=event["event"])
