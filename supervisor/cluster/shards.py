"""Who delivers which webhooks: the shard streams ``zv:deliveries:{k}`` and their leases.

Each event with receivers is appended (cluster/relay.py) to the shard of its session (16 shards:
:data:`~supervisor.cluster.streamids.SHARDS`), so every event of one session is in one stream, in
the order its nodes published them, wherever the session runs. A shard is delivered by the node
holding ``zv:shard:{k}`` ("<node> <incarnation>", PX ``lease_s``, renewed every ``lease_s / 3``):
the live, non-draining node that rendezvous hashing with bounded loads prefers for it
(:func:`assignment`), so the shards spread evenly over the nodes and a node's death moves its
own shards (and at most a few others, to keep the shares even). The holder reads new entries through the
consumer group ``webhooks`` (a script that reads only while the lease is this holder's: a node
that lost a shard reads nothing more of it), and a node taking a shard over first claims every
entry still pending in the group (XAUTOCLAIM, in stream order): what the previous holder read but
did not finish. An entry is acknowledged and deleted once each of its receivers accepted it or was
given up on; the receivers already done of an entry with several are kept in
``zv:deliveries:{k}:done`` meanwhile, so a new holder sends only what is left.

Given-up deliveries are listed, newest first and without secrets, in ``zv:deliveries:failed``
(at most ``[webhooks] keep_failed``).
"""

from __future__ import annotations

import functools
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from supervisor.cluster.eventscripts import FETCH, SHARDS
from supervisor.cluster.lease import SAFETY
from supervisor.cluster.redisclient import reachable
from supervisor.cluster.streamids import SHARDS as COUNT

__all__ = ["GROUP", "Entry", "Op", "Shards", "assignment", "preferred"]

GROUP = "webhooks"
_CLAIM_PAGE = 500
#: A stream entry: its id and fields.
Entry = tuple[str, dict[str, str]]


def preferred(shard: int, nodes: Sequence[str]) -> str | None:
    """The node that should deliver ``shard`` (see :func:`assignment`)."""
    return assignment(tuple(sorted(set(nodes)))).get(shard)


@functools.lru_cache(maxsize=64)
def assignment(nodes: tuple[str, ...]) -> dict[int, str]:
    """Shard -> node, the same on every node that sees the same live ``nodes``: rendezvous
    hashing with bounded loads. Each shard, in order, goes to the node that ranks it highest
    among those with room, and room is an even share (``COUNT // len(nodes)``, the remainder
    going one each to the first to ask), so 16 shards spread 6/5/5 over three nodes where plain
    rendezvous hashing gave 8/4/4. A node that leaves hands its own shards on, and at most a few
    others move to keep the shares even."""
    if not nodes:
        return {}
    share, extra = divmod(COUNT, len(nodes))
    load = dict.fromkeys(nodes, 0)
    owners: dict[int, str] = {}
    for shard in range(COUNT):
        for node in sorted(nodes, key=lambda n: (zlib.crc32(f"{shard}/{n}".encode()), n), reverse=True):
            if load[node] < share or (load[node] == share and extra > 0):
                if load[node] == share:
                    extra -= 1  # one of the remainder's extra places taken
                load[node] += 1
                owners[shard] = node
                break
    return owners


@dataclass(frozen=True)
class Op:
    """What a settled delivery asks of Redis: ``ack`` an entry (and forget the receivers done of
    it), mark one receiver of an entry ``done``, or list a ``failed`` delivery."""

    kind: str
    shard: int = 0
    entry_id: str = ""
    urls: tuple[str, ...] = ()
    record: str = ""


class Shards:
    """This node's side of the shard leases and streams."""

    def __init__(self, redis: aioredis.Redis, node_id: str, incarnation: str, lease_s: float,
                 keep_failed: int, prefix: str = "zv:") -> None:
        self.redis = redis
        self.node = node_id
        self.holder = f"{node_id} {incarnation}"
        self.lease_s = lease_s
        self.keep_failed = keep_failed
        self.prefix = prefix
        #: Shard -> time.monotonic() until which this node surely holds it.
        self.held: dict[int, float] = {}
        self._sync = redis.register_script(SHARDS)
        self._fetch = redis.register_script(FETCH)

    def stream(self, shard: int) -> str:
        """The shard's stream of deliveries."""
        return f"{self.prefix}deliveries:{shard}"

    def _done(self, shard: int) -> str:
        return f"{self.stream(shard)}:done"

    def surely(self, shard: int) -> bool:
        """True while this node surely holds ``shard`` (its renewal is recent enough)."""
        return time.monotonic() < self.held.get(shard, 0.0)

    async def sync(self, codes: str) -> tuple[list[int], list[int]]:
        """Take, renew or let go of each shard (``codes``: cluster/eventscripts.py SHARDS);
        (the shards held now, those taken now)."""
        sent = time.monotonic()
        with reachable("renewing the webhook shards"):
            held, taken = await self._sync(keys=[], args=[
                f"{self.prefix}shard:", self.holder, int(self.lease_s * 1000), GROUP,
                f"{self.prefix}deliveries:", codes])
        self.held = {int(k): sent + self.lease_s * SAFETY for k in held}
        return sorted(self.held), sorted(int(k) for k in taken)

    async def release_all(self) -> None:
        """Let every shard go at once (the daemon is stopping: another node takes them now)."""
        await self.sync("r" * COUNT)

    async def claim(self, shard: int) -> tuple[list[Entry], set[str]]:
        """Every entry pending in the shard's group, now this node's, in stream order; and the
        receivers already done ("<entry id> <url>")."""
        found: list[Entry] = []
        cursor = "0-0"
        while True:
            with reachable(f"claiming webhook shard {shard}"):
                answer = await self.redis.xautoclaim(self.stream(shard), GROUP, self.node, 0,
                                                     start_id=cursor, count=_CLAIM_PAGE)
            cursor = str(answer[0])
            found += [(str(i), dict(f)) for i, f in answer[1] if f]
            if cursor == "0-0":
                break
        with reachable(f"claiming webhook shard {shard}"):
            done = await self.redis.hkeys(self._done(shard))
        return found, {str(d) for d in done}

    async def fetch(self, shards: Sequence[int], count: int) -> list[tuple[int, list[Entry]]]:
        """New entries of each of ``shards`` this node still holds."""
        with reachable("reading webhook deliveries"):
            raw: list[Any] = await self._fetch(keys=[], args=[
                f"{self.prefix}shard:", self.holder, GROUP, self.node, f"{self.prefix}deliveries:",
                count, *shards])
        out = []
        for i in range(0, len(raw), 2):
            entries = [(str(e[0]), dict(zip(e[1][::2], e[1][1::2], strict=True))) for e in raw[i + 1]]
            out.append((int(raw[i]), entries))
        return out

    async def settle(self, ops: Sequence[Op]) -> None:
        """Write what settled deliveries ask, in one round trip."""
        failed = f"{self.prefix}deliveries:failed"
        with reachable("recording webhook deliveries"):
            async with self.redis.pipeline(transaction=True) as pipe:
                for op in ops:
                    if op.kind == "ack":
                        pipe.xack(self.stream(op.shard), GROUP, op.entry_id)
                        pipe.xdel(self.stream(op.shard), op.entry_id)
                        if op.urls:
                            pipe.hdel(self._done(op.shard), *(f"{op.entry_id} {u}" for u in op.urls))
                    elif op.kind == "done":
                        pipe.hset(self._done(op.shard), f"{op.entry_id} {op.urls[0]}", "1")
                    elif self.keep_failed > 0:
                        pipe.lpush(failed, op.record)
                        pipe.ltrim(failed, 0, self.keep_failed - 1)
                # A group Redis lost (no AOF) refuses its acks: the entries are gone with it.
                await pipe.execute(raise_on_error=False)

    async def owners(self) -> dict[str, str | None]:
        """Shard -> the node delivering it (None: nobody now)."""
        with reachable("reading the webhook shards"):
            values = await self.redis.mget([f"{self.prefix}shard:{k}" for k in range(COUNT)])
        return {str(k): (str(v).split(" ", 1)[0] if v else None) for k, v in enumerate(values)}
