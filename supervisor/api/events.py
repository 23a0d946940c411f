"""Server-sent event streams: ``GET /api/events`` and ``GET /api/sessions/{id}/events``.

Each SSE message has ``id:`` (the event id), ``event:`` (its name) and ``data:`` (the whole
event as JSON). ``?events=session.status,message.*`` filters by name. A client that reconnects
with ``Last-Event-ID`` (or ``?last_event_id=``) first gets what it missed from the bus's bounded
history; if the history no longer reaches back that far, an unnumbered ``gap`` message says
which ids are gone. Idle streams carry a ``: ping`` comment every ``sse_ping_interval_s``.
``?exclude=session.resource`` leaves names out (same syntax as ``events``).

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
from supervisor.api.keys import HUB, REGISTRY
from supervisor.api.spec import Answer, Param, operation, params
from supervisor.errors import InvalidRequest, Unavailable
from supervisor.events.bus import Event, matches, parse_patterns
from supervisor.logs import get_logger

__all__ = ["routes"]

routes = web.RouteTableDef()
_log = get_logger()
_MAX_LIMIT = 1000
_FILTER = {"type": "string", "maxLength": 1000}
_EVENT = sc.obj({"id": sc.INT, "event": sc.STR, "session": sc.nullable(sc.STR),
                 "timestamp": sc.ANY, "payload": sc.ANY})
_STREAM = Answer(
    "Server-sent events (id: the event id, event: its name, data: the event as JSON); with "
    "?format=json, the latest events at once",
    schema=sc.obj({"events": sc.array(_EVENT), "last_id": sc.INT, "oldest_id": sc.INT}),
    media={"text/event-stream": {"type": "string"}})
_PARAMS = [
    Param("events", _FILTER, "only these events, comma-separated: names or families "
          "(session.status,message.*)"),
    Param("exclude", _FILTER, "leave these out (same syntax as events)"),
    Param("format", {"type": "string", "enum": ["sse", "json"], "default": "sse"},
          "json: answer at once with the latest events still in the history"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": _MAX_LIMIT, "default": 50},
          "format=json: at most this many (the latest)"),
    Param("last_event_id", {**sc.ROW_ID, "x-message": "Last-Event-ID (an event id) must be an "
                            f"integer from 0 to {ROW_ID_MAX}, got {{value}}"},
          "resume after this event id (as the Last-Event-ID header does)"),
    Param("Last-Event-ID", {"type": "string", "maxLength": 40}, "resume after this event id "
          "(what an EventSource sends when it reconnects)", where="header"),
]


def _last_event_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID")
    if raw is None or raw.strip() == "":
        return params(request).get("last_event_id")
    return decimal(raw.strip(), "Last-Event-ID (an event id)", 0, ROW_ID_MAX)


@routes.get("/api/events")
@operation(tags=["events"], params=_PARAMS, errors=[Unavailable], responses={200: _STREAM})
async def all_events(request: web.Request) -> web.StreamResponse:
    """Every event of every session, as server-sent events (``?format=json``: the latest)."""
    return await _stream(request, None)


@routes.get("/api/sessions/{id}/events")
@operation(tags=["events"], params=_PARAMS, errors=[Unavailable], responses={200: _STREAM})
async def session_events(request: web.Request) -> web.StreamResponse:
    """One session's events, as server-sent events (``?format=json``: the latest)."""
    session_id = request.app[REGISTRY].get(request.match_info["id"]).id
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


def _latest(request: web.Request, wants: Callable[[Event], bool]) -> web.Response:
    bus = request.app[HUB].bus
    limit = params(request)["limit"]
    events = bus.history(_last_event_id(request) or 0, wants)[-limit:]
    return web.json_response({"events": events, "last_id": bus.last_id, "oldest_id": bus.oldest_id})


async def _stream(request: web.Request, session: str | None) -> web.StreamResponse:
    hub = request.app[HUB]
    settings = hub.config.events
    form = params(request)["format"]
    wants = _selector(request, session)
    if form == "json":
        return _latest(request, wants)
    after = _last_event_id(request)
    bus = hub.bus
    if bus.subscribers >= settings.max_sse_clients:
        hub.metrics.sse_refused()
        raise Unavailable(f"too many event streams open ({settings.max_sse_clients}, "
                          "[events] max_sse_clients); try again later")
    # Subscribe, then read the history, with no await in between: nothing falls in a gap.
    with bus.subscribe(wants) as sub:
        backlog = bus.history(after, wants) if after is not None else []
        missed = (after + 1, bus.oldest_id - 1) if after is not None and after + 1 < bus.oldest_id else None
        resp = EventSourceResponse(ping_interval=settings.sse_ping_interval_s,
                                   send_timeout=settings.sse_send_timeout_s)
        await resp.prepare(request)
        sent, why = 0, "client left"
        try:
            if missed is not None:
                await resp.send(json.dumps({"first_missing": missed[0], "last_missing": missed[1]}),
                                event="gap")
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
