"""The deliveries the cluster gave up on: listed, and sent again by hand.

A shard's holder that gives up on a delivery (cluster/book.py) pushes its record, without the
secret, on ``zv:deliveries:failed`` (newest first, at most ``[webhooks] keep_failed``). Here any
node lists them (``GET /api/cluster/deliveries``) and queues one again, named by its event id
and receiver URL (``POST /api/cluster/deliveries/retry``): one script takes the record off the
list and appends the event, read again from the cluster's event stream ``zv:events``, to its
session's shard stream, with the receiver's secret as it is now (the global webhook's, or the
session's own webhook with that URL as shared in ``zv:hooks:{id}``). The shard's holder then
delivers it as any other (signed, retried, given up again if it fails again), after what is
already waiting for that receiver; its age for ``max_age_s`` counts from the retry, as on one host.

Refused: an unknown record (NotFound), an event the stream no longer holds (trimmed: Conflict),
a URL no webhook has any more (Conflict: there is no secret to sign with).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import redis.asyncio as aioredis

from supervisor.cluster.redisclient import reachable, text
from supervisor.cluster.relay import Relay
from supervisor.cluster.streamids import shard_of
from supervisor.errors import Conflict, NotFound
from supervisor.events.webhooks import Hook
from supervisor.logs import get_logger

__all__ = ["RETRY", "FailedDeliveries"]

#: Records read per round trip while looking through the list.
_PAGE = 500
_log = get_logger()

#: KEYS: failed list, events stream, shard stream. ARGV: the record exactly as stored, event id,
#: targets JSON, retried_at. Takes the record off the list and appends the event (with the node
#: that published it) to the shard stream, as the relay's PUBLISH does, with ``retried_at``.
#: Returns {'missing'} (no such record now), {'gone'} (the event stream no longer holds the
#: event; the record stays listed) or {'queued', shard entry id}.
RETRY = """
if not redis.call('LPOS', KEYS[1], ARGV[1]) then return {'missing'} end
local found = redis.call('XRANGE', KEYS[2], ARGV[2], ARGV[2])
if #found == 0 then return {'gone'} end
local node, event = '', nil
local fields = found[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'node' then node = fields[i + 1] elseif fields[i] == 'event' then event = fields[i + 1] end
end
if not event then return {'gone'} end
redis.call('LREM', KEYS[1], 1, ARGV[1])
local id = redis.call('XADD', KEYS[3], '*', 'id', ARGV[2], 'node', node, 'event', event,
                      'targets', ARGV[3], 'retried_at', ARGV[4])
return {'queued', id}
"""


class FailedDeliveries:
    """The cluster's given-up deliveries (``global_hook``: the node's ``[webhooks] url``, the
    same on every node; ``relay`` reads the sessions' shared webhooks)."""

    def __init__(self, redis: aioredis.Redis, relay: Relay, global_hook: Hook | None,
                 prefix: str = "zv:") -> None:
        self.redis = redis
        self.relay = relay
        self.global_hook = global_hook
        self.prefix = prefix
        self.key = f"{prefix}deliveries:failed"
        self._retry = redis.register_script(RETRY)

    async def listing(self, session: str | None = None, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """The given-up deliveries, newest first (only ``session``'s if given; at most
        ``limit``), each with ``"status": "failed"``; and how many the list holds in all."""
        found: list[dict[str, Any]] = []
        async with aclosing(self._records()) as records:  # closed when the limit stops it early
            async for _raw, record in records:
                if session is None or record.get("session") == session:
                    found.append({**record, "status": "failed"})
                    if len(found) >= limit:
                        break
        with reachable("counting the failed webhook deliveries"):
            total = int(await self.redis.llen(self.key))
        return found, total

    async def _records(self) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """Every record (as stored, parsed), newest first; one that is not JSON is skipped."""
        start, seen = 0, set()
        while True:
            with reachable("reading the failed webhook deliveries"):
                page = [text(raw) for raw in await self.redis.lrange(self.key, start, start + _PAGE - 1)]
            for raw in page:
                if raw in seen:  # pushed down a page by one given up meanwhile: seen already
                    continue
                seen.add(raw)
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield raw, record
            if len(page) < _PAGE:
                return
            start += _PAGE

    async def find(self, event_id: str, url: str) -> tuple[str, dict[str, Any]]:
        """The newest record of ``event_id`` to ``url`` (as stored, and parsed); NotFound."""
        async with aclosing(self._records()) as records:
            async for raw, record in records:
                if record.get("event_id") == event_id and record.get("url") == url:
                    return raw, record
        raise NotFound(f"no failed webhook delivery of event {event_id} to {url} in the cluster "
                       "(see GET /api/cluster/deliveries)")

    async def secret(self, session: str | None, url: str) -> str:
        """The secret of the webhook with ``url`` now: the global one's, else the session's own
        one's; Conflict if no webhook has that URL any more."""
        if self.global_hook is not None and self.global_hook.url == url:
            return self.global_hook.secret
        if session:
            for hook in await self.relay.hooks_of(session):
                if hook.url == url:
                    return hook.secret
        whose = f"session {session}" if session else "the daemon"
        raise Conflict(f"no webhook of {whose} has the URL {url} any more: nothing to send it to")

    async def retry(self, event_id: str, url: str) -> dict[str, Any]:
        """Queue a given-up delivery again on its session's shard; its record, ``"status":
        "pending"``. NotFound, or Conflict (its event trimmed, its webhook gone)."""
        raw, record = await self.find(event_id, url)
        session = record.get("session") or None
        targets = json.dumps([[url, await self.secret(session, url)]])
        shard = shard_of(session)
        now = time.time()
        with reachable("queueing a webhook delivery again"):
            answer = await self._retry(
                keys=[self.key, f"{self.prefix}events", f"{self.prefix}deliveries:{shard}"],
                args=[raw, event_id, targets, repr(now)])
        outcome = text(answer[0])
        if outcome == "missing":  # retried (or trimmed) meanwhile
            raise NotFound(f"no failed webhook delivery of event {event_id} to {url} in the cluster "
                           "(retried meanwhile?)")
        if outcome == "gone":
            raise Conflict(f"event {event_id} is no longer in the cluster's event stream "
                           f"({self.prefix}events keeps the latest events only): it cannot be sent again")
        _log.info("cluster.delivery_retried", session_id=session, event_id=event_id, url=url,
                  shard=shard, entry=text(answer[1]))
        return {**record, "status": "pending", "shard": shard, "retried_at": now}
