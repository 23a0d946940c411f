"""The send queue in the control API: how every send route answers, and the queue's own routes.

A send is stored in its session's queue before it is answered. It waits up to ``[sending]
wait_s`` for WhatsApp's message id: sent by then -> 201 with the id; still held by pacing or a
limit -> 202 with its ``queue_id`` and ``status_url``. Query ``?wait=false`` answers 202 at once;
``?over_limit=reject`` (or the session's ``over_limit``) refuses a send over a limit with 429,
``Retry-After`` and the limit's name. ``Idempotency-Key: <key>`` makes a retried request give
the first one's send (for ``idempotency_h``), never a second message.

    GET    /api/sessions/{id}/queue              open sends (?status=queued,sending,sent,...
                                                 &limit=), the session's limits and usage
    GET    /api/sessions/{id}/queue/{queue_id}   one send
    DELETE /api/sessions/{id}/queue/{queue_id}   cancel a send not yet begun
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from supervisor.api import schemas as sc
from supervisor.api.httputil import row_id
from supervisor.api.keys import REGISTRY, SENDS
from supervisor.api.spec import Answer, Param, operation, params
from supervisor.errors import Conflict, from_http
from supervisor.sending.store import OPEN, TERMINAL, Entry
from supervisor.sessions.session import Session

__all__ = ["answer", "routes"]

routes = web.RouteTableDef()
_STATUSES = OPEN + TERMINAL
_ONE_STATUS = f"(?:{'|'.join(_STATUSES)})"
_LISTED = sc.obj({"session": sc.STR, "depth": sc.INT, "oldest_created_at": sc.nullable(sc.NUM),
                  "entries": sc.array(sc.ENTRY), "policy": sc.OBJ,
                  "now": {**sc.NUM, "description": "the daemon's clock (ages of entries count from it)"}})


def _status_url(entry: Entry) -> str:
    return f"/api/sessions/{entry.session}/queue/{entry.id}"


def outcome(entry: Entry) -> tuple[int, dict[str, Any]]:
    """The answer to a send request once its wait is over: 201 sent, 202 still queued, or the
    error it failed with (the same one a direct send would have given)."""
    if entry.status == "sent":
        result = entry.result or {}
        extra: dict[str, Any] = {k: entry.payload[k] for k in ("mimetype", "size") if k in entry.payload}
        if entry.kind != "text":
            extra["kind"] = entry.kind
        return 201, {"id": entry.wa_id, "to": result.get("to", entry.chat), "ack": result.get("ack"),
                     "timestamp": result.get("timestamp"), "session": entry.session,
                     "queue_id": entry.id, "status": "sent", **extra}
    if entry.status == "failed":
        raise from_http({"type": entry.error_type, "message": entry.error})
    if entry.status == "cancelled":
        raise Conflict(f"send {entry.id} was cancelled")
    return 202, {"queue_id": entry.id, "status": entry.status, "status_url": _status_url(entry),
                 "session": entry.session, "to": entry.chat, "kind": entry.kind,
                 "held_by": entry.held_by}


async def answer(request: web.Request, session: Session, chat: str, kind: str,
                 payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Queue a send for ``request`` and wait as it asks: (status, body)."""
    queues = request.app[SENDS]
    given = params(request)  # checked against schemas.SEND_PARAMS, which every send route declares
    key, over_limit = given.get("Idempotency-Key"), given.get("over_limit")
    wait = given.get("wait", True)
    entry, _new = queues.submit(session, chat, kind, payload, key, over_limit)
    if wait:
        entry = await queues.wait(entry, queues.policy(session).wait_s)
    return outcome(entry)


@routes.get("/api/sessions/{id}/queue")
@operation(tags=["queue"], params=[
    Param("status", {"type": "string", "pattern": f"^{_ONE_STATUS}(?:,{_ONE_STATUS})*$",
                     "default": "queued,sending",
                     "x-message": f"status must be a comma-separated list of {', '.join(_STATUSES)}"},
          "the sends of these statuses, comma-separated"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
          "at most this many")],
    responses={200: Answer("The queue", schema=_LISTED)})
async def get_queue(request: web.Request) -> web.Response:
    """A session's queue: its open sends (or those of ``?status=``), limits and usage."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    queues = request.app[SENDS]
    wanted = tuple(params(request)["status"].split(","))
    limit = params(request)["limit"]
    entries = queues.store.select(session.id, wanted, limit)
    depth, oldest = queues.store.depths().get(session.id, (0, None))
    return web.json_response({"session": session.id, "depth": depth, "oldest_created_at": oldest,
                              "entries": [e.public() for e in entries],
                              "policy": queues.describe(session), "now": time.time()})


@routes.get("/api/sessions/{id}/queue/{queue_id}")
@operation(tags=["queue"], responses={200: Answer("The send", schema=sc.ENTRY)})
async def get_entry(request: web.Request) -> web.Response:
    """One send of the queue."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    entry = request.app[SENDS].store.get(session.id, row_id(request.match_info["queue_id"], "queue id"))
    return web.json_response(entry.public())


@routes.delete("/api/sessions/{id}/queue/{queue_id}")
@operation(tags=["queue"], errors=[Conflict], responses={200: Answer("Cancelled", schema=sc.ENTRY)})
async def delete_entry(request: web.Request) -> web.Response:
    """Cancel a send that has not begun (409 once it has)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    entry = request.app[SENDS].cancel(session.id, row_id(request.match_info["queue_id"], "queue id"))
    return web.json_response(entry.public())
