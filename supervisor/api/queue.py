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

import re
from typing import Any

from aiohttp import web

from supervisor.api.httputil import decimal, row_id
from supervisor.api.keys import REGISTRY, SENDS
from supervisor.errors import Conflict, InvalidRequest, from_http
from supervisor.sending.store import OPEN, TERMINAL, Entry
from supervisor.sessions.session import Session
from supervisor.settings.sending import OVER_LIMIT

__all__ = ["answer", "routes"]

routes = web.RouteTableDef()
_IDEM_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as Stripe's and the IETF draft's
_STATUSES = OPEN + TERMINAL
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


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
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEM_KEY.fullmatch(key):
        raise InvalidRequest("Idempotency-Key must be 1 to 255 printable ASCII characters")
    wait = _FLAGS.get(request.query.get("wait", "true").lower())
    if wait is None:
        raise InvalidRequest(f"wait must be true or false, got {request.query['wait'][:20]!r}")
    over_limit = request.query.get("over_limit")
    if over_limit is not None and over_limit not in OVER_LIMIT:
        raise InvalidRequest(f"over_limit must be one of {', '.join(OVER_LIMIT)}, got {over_limit[:20]!r}")
    entry, _new = queues.submit(session, chat, kind, payload, key, over_limit)
    if wait:
        entry = await queues.wait(entry, queues.policy(session).wait_s)
    return outcome(entry)


@routes.get("/api/sessions/{id}/queue")
async def get_queue(request: web.Request) -> web.Response:
    """A session's queue: its open sends (or those of ``?status=``), limits and usage."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    queues = request.app[SENDS]
    wanted = tuple(s for s in request.query.get("status", "queued,sending").split(",") if s)
    unknown = [s for s in wanted if s not in _STATUSES]
    if unknown or not wanted:
        raise InvalidRequest(f"status must be a list of {', '.join(_STATUSES)}")
    limit = decimal(request.query.get("limit", "100"), "limit", 1, 1000)
    entries = queues.store.select(session.id, wanted, limit)
    depth, oldest = queues.store.depths().get(session.id, (0, None))
    return web.json_response({"session": session.id, "depth": depth, "oldest_created_at": oldest,
                              "entries": [e.public() for e in entries],
                              "policy": queues.describe(session)})


@routes.get("/api/sessions/{id}/queue/{queue_id}")
async def get_entry(request: web.Request) -> web.Response:
    """One send of the queue."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    entry = request.app[SENDS].store.get(session.id, row_id(request.match_info["queue_id"], "queue id"))
    return web.json_response(entry.public())


@routes.delete("/api/sessions/{id}/queue/{queue_id}")
async def delete_entry(request: web.Request) -> web.Response:
    """Cancel a send that has not begun (409 once it has)."""
    session = request.app[REGISTRY].get(request.match_info["id"])
    entry = request.app[SENDS].cancel(session.id, row_id(request.match_info["queue_id"], "queue id"))
    return web.json_response(entry.public())
