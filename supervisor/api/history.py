"""The charts' history: ``GET /api/history``, read-only.

    GET /api/history?session=&since=&bucket=
        session   a session's series (memory, CPU, messages, restarts); none: the daemon's
                  (messages, restarts, webhook queue)
        since     Unix seconds (default: a day ago; at most ``[events] charts_keep_h`` back)
        bucket    seconds per bucket, a multiple of 60 (default: the smallest that fits the
                  range in 120 buckets); at most 1440 buckets in all
    -> {"session", "since", "until", "bucket_s", "times": [bucket starts],
        "series": {"messages_received": [count per bucket], ..., "memory_bytes": [mean or
        null], "memory_bytes_max": [...], ...}}

The series are added up server-side from per-minute cells (supervisor/events/history.py), so
what one request costs is bounded by the kept window, not by the number of events.
"""

from __future__ import annotations

import math
import time

from aiohttp import web

from supervisor.api import schemas as sc
from supervisor.api.httputil import decimal
from supervisor.api.keys import HUB, REGISTRY
from supervisor.api.spec import Answer, Param, operation
from supervisor.errors import InvalidRequest, NotFound
from supervisor.events.history import MAX_BUCKETS

__all__ = ["routes"]

routes = web.RouteTableDef()

_DAY_S = 86400
_DEFAULT_BUCKETS = 120
_KNOWN = frozenset({"session", "since", "bucket"})


_SERIES = sc.obj({
    "session": sc.nullable(sc.STR), "since": sc.NUM, "until": sc.NUM, "bucket_s": sc.INT,
    "times": {**sc.array(sc.NUM), "description": "each bucket's start (Unix seconds)"},
    "series": {"type": "object", "additionalProperties": sc.array(sc.nullable(sc.NUM)),
               "description": "name -> one value per bucket: a count, or a gauge's mean (null: "
                              "no sample); <gauge>_max its largest sample"}})


@routes.get("/api/history")
@operation(tags=["daemon"], errors=[NotFound], params=[
    Param("session", {**sc.SESSION_ID, "description": "a session's series; none: the daemon's"},
          "a session's series (memory, CPU, messages, restarts); none: the daemon's"),
    Param("since", {"type": "integer", "minimum": 0, "maximum": 2**40}, "Unix seconds (default: a day "
          "ago; at most [events] charts_keep_h back)"),
    Param("bucket", {"type": "integer", "minimum": 60, "maximum": _DAY_S, "multipleOf": 60},
          "seconds per bucket, a multiple of 60 (default: fits the range in 120 buckets)")],
    responses={200: Answer("The series, in buckets", schema=_SERIES)})
async def get_history(request: web.Request) -> web.Response:
    """Time series for the dashboard's charts, in buckets."""
    unknown = sorted(set(request.query) - _KNOWN)
    if unknown:
        raise InvalidRequest(f"unknown parameter(s) {', '.join(unknown)}; allowed: "
                             "session, since, bucket")
    history = request.app[HUB].history
    session = request.query.get("session")
    if session is not None:
        session = request.app[REGISTRY].get(session).id
    now = time.time()
    raw_since = request.query.get("since")
    since = (now - _DAY_S if raw_since is None
             else decimal(raw_since, "since (Unix seconds)", 0, 2**40))
    span = now - max(since, now - history.keep_s)
    raw_bucket = request.query.get("bucket")
    if raw_bucket is None:
        bucket = max(60, math.ceil(span / _DEFAULT_BUCKETS / 60) * 60)
    else:
        bucket = decimal(raw_bucket, "bucket (seconds)", 60, _DAY_S)
        if bucket % 60:
            raise InvalidRequest(f"bucket must be a multiple of 60 seconds, got {bucket}")
        if span / bucket > MAX_BUCKETS:
            raise InvalidRequest(f"{math.ceil(span / bucket)} buckets of {bucket}s asked for; at "
                                 f"most {MAX_BUCKETS}: use a larger bucket or a later since")
    return web.json_response(history.query(session, since, bucket))
