"""Membership and ownership in Redis: each node's lease, each session's owner and fencing token.

Keys (``prefix`` ``zv:`` by default)::

    zv:lease:{node}     string, the node's incarnation, PX lease_s*1000: alive while it exists
    zv:nodes            hash node -> JSON info (url, max_sessions, sessions, memory_mb, draining,
                        version, incarnation, started_at, renewed_at: Redis time)
    zv:session:{id}     hash owner, token, record (JSON, written by the owner)
    zv:sessions         set of session ids
    zv:secret           the cluster's own key (SET NX once)
    zv:mark:{node}      set as the node joins: gone at a verify means Redis lost its data

A session's token only grows (HINCRBY in the same Lua step as the owner check): every claim,
also a node claiming its own session again, hands out a new one, so whatever held the previous
token (an older incarnation, a node frozen past its lease) is fenced. Liveness is a lease key's
TTL on the Redis server; no two hosts' clocks are ever compared.

Every Redis failure that means "cannot decide now" (connection refused or lost, timeout, Redis
loading its AOF, a read-only replica) is raised as :class:`ClusterUnavailable` (503).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from supervisor.cluster import scripts
from supervisor.cluster.redisclient import reachable, text
from supervisor.cluster.views import NodeView, SessionView, Verdict, decode_json
from supervisor.errors import (
    ClusterUnavailable,
    Conflict,
    InvalidRequest,
    LeaseLost,
    NotFound,
)

__all__ = ["Coordinator"]

#: Sessions read per script call by ``sessions()``: keeps each call short on the server (a
#: script blocks every other client while it runs).
_READ_BATCH = 500


class Coordinator:
    """One node's view of the cluster in Redis: its lease, and the sessions it owns."""

    def __init__(self, redis: aioredis.Redis, node_id: str, lease_s: float, prefix: str = "zv:") -> None:
        self.redis = redis
        self.node = node_id
        self.lease_s = lease_s
        self.prefix = prefix
        #: This process's lease value: a restarted node (same id) is a new incarnation.
        self.incarnation = secrets.token_hex(8)
        self._renew = redis.register_script(scripts.RENEW)
        self._nodes = redis.register_script(scripts.NODES)
        self._claim = redis.register_script(scripts.CLAIM)
        self._verify = redis.register_script(scripts.VERIFY)
        self._write = redis.register_script(scripts.WRITE)
        self._read = redis.register_script(scripts.READ)
        self._release = redis.register_script(scripts.RELEASE)
        self._disown = redis.register_script(scripts.DISOWN)
        self._set_word = redis.register_script(scripts.SET_NODE_WORD)
        self._forget_node = redis.register_script(scripts.FORGET_NODE)

    def lease_key(self, node: str) -> str:
        """The key whose existence says ``node`` is alive."""
        return f"{self.prefix}lease:{node}"

    def session_key(self, session_id: str) -> str:
        """The hash of one session's owner, token and record."""
        return f"{self.prefix}session:{session_id}"

    @property
    def _nodes_key(self) -> str:
        return f"{self.prefix}nodes"

    @property
    def _sessions_key(self) -> str:
        return f"{self.prefix}sessions"

    @property
    def _orphans_key(self) -> str:
        return f"{self.prefix}orphans"  # handed over (drained), waiting for a taker

    def owned_key(self, node: str) -> str:
        """The set of the sessions ``node`` owns (kept by the claim, release and hand-over)."""
        return f"{self.prefix}owned:{node}"

    async def renew(self, info: Mapping[str, Any]) -> NodeView:
        """Set this node's lease (its incarnation, expiring in ``lease_s``) and its entry in
        ``zv:nodes`` (``info``, stamped ``renewed_at`` by Redis; ``draining`` stays the cluster's
        word: see :meth:`set_draining`). Returns the entry as stored. Keep ``info``'s values
        JSON scalars: Lua's cjson re-encodes it (an empty list would come back as {})."""
        payload = json.dumps(dict(info))
        with reachable("renewing the lease"):
            stored = await self._renew(keys=[self.lease_key(self.node), self._nodes_key],
                                       args=[self.node, self.incarnation, int(self.lease_s * 1000), payload])
        entry = decode_json(stored)
        return NodeView(node=self.node, alive=True, lease_ms=int(self.lease_s * 1000), info=entry,
                        now=float(entry.get("renewed_at", 0.0)))

    async def nodes(self) -> list[NodeView]:
        """Every node in ``zv:nodes``, alive or not, sorted by id."""
        with reachable("listing the nodes"):
            raw = await self._nodes(keys=[self._nodes_key], args=[self.lease_key("")])
        now = float(text(raw[0]))
        views = [NodeView.parse(text(raw[i]), raw[i + 1], int(raw[i + 2]), now)
                 for i in range(1, len(raw), 3)]
        return sorted(views, key=lambda v: v.node)

    async def alive_nodes(self) -> list[NodeView]:
        """The nodes whose lease is alive."""
        return [view for view in await self.nodes() if view.alive]

    async def claim(self, session_id: str, *, record: Mapping[str, Any] | None = None,
                    takeover: bool = False, floor: int = 0) -> int | None:
        """Become the session's owner and return the new token (above ``floor``), if it has no
        owner, or this node owns it, or (``takeover``) its owner's lease is gone; else None.
        ``record`` replaces the stored record. LeaseLost if this incarnation holds no live
        lease: renew first."""
        payload = json.dumps(dict(record)) if record is not None else ""
        with reachable(f"claiming session {session_id}"):
            token = int(await self._claim(
                keys=[self.session_key(session_id), self._sessions_key, self.lease_key(self.node),
                      self._orphans_key],
                args=[self.node, self.incarnation, "1" if takeover else "0", payload, session_id,
                      self.lease_key(""), self.owned_key(""), str(floor)]))
        if token == -1:
            raise LeaseLost(f"node {self.node} holds no live lease: it claims nothing until renewed")
        return token if token > 0 else None

    async def verify(self, owned: Mapping[str, int]) -> Verdict:
        """Of the sessions this node runs (id -> the token it claimed with), those whose owner or
        token changed since (stop them), and those Redis knows nothing of; the cluster's key as
        Redis holds it, and whether this node's mark is there (the key None or not the one this
        node knows, or no mark: Redis lost its data). One round trip, one hash read per
        session."""
        args: list[str] = [self.node, self.session_key("")]
        for session_id, token in owned.items():
            args += [session_id, str(token)]
        with reachable("verifying this node's sessions"):
            stale, missing, key, marked = await self._verify(keys=[self._key_key, self._mark_key], args=args)
        return Verdict({text(s) for s in stale}, {text(s) for s in missing},
                       text(key) if key is not None else None, int(marked) == 1)

    @property
    def _mark_key(self) -> str:
        return f"{self.prefix}mark:{self.node}"

    async def mark(self) -> None:
        """Leave this node's mark (its absence at a verify means Redis lost its data)."""
        with reachable("marking this node"):
            await self.redis.set(self._mark_key, self.incarnation)

    async def write(self, session_id: str, token: int, record: Mapping[str, Any]) -> bool:
        """Replace the session's record if this node still owns it with ``token``; False (and
        nothing written) if the token is stale."""
        with reachable(f"writing session {session_id}"):
            done = await self._write(keys=[self.session_key(session_id)],
                                     args=[self.node, str(token), json.dumps(dict(record))])
        return int(done) == 1

    async def _read_many(self, ids: list[str]) -> list[SessionView]:
        views = []
        for start in range(0, len(ids), _READ_BATCH):
            batch = ids[start:start + _READ_BATCH]
            with reachable("reading sessions"):
                raw = await self._read(keys=[], args=[self.session_key(""), self.lease_key(""), *batch])
            for i in range(0, len(raw), 6):
                session_id, owner, token, record, alive, state = raw[i:i + 6]
                if owner is None or token is None:
                    continue  # deleted (or a token left behind by release)
                views.append(SessionView(text(session_id), text(owner), int(token),
                                         decode_json(record), int(alive) == 1,
                                         text(state) if state is not None else ""))
        return views

    async def record(self, session_id: str) -> SessionView | None:
        """The session's owner, token, record and whether its owner is alive; None if unknown."""
        found = await self._read_many([session_id])
        return found[0] if found else None

    async def records(self, session_ids: list[str]) -> list[SessionView]:
        """:meth:`record` of many sessions in one script per 500 (unknown ones left out)."""
        return await self._read_many(session_ids)

    async def sessions(self) -> list[SessionView]:
        """Every session of the cluster, sorted by id."""
        with reachable("listing the sessions"):
            ids = sorted(text(i) for i in await self.redis.smembers(self._sessions_key))
        return await self._read_many(ids)

    async def owned_counts(self, nodes: list[str]) -> dict[str, int]:
        """How many sessions each of ``nodes`` owns (stopped ones too: they count against its
        ``max_sessions``), in one round trip."""
        with reachable("counting the nodes' sessions"):
            async with self.redis.pipeline(transaction=False) as pipe:
                for node in nodes:
                    pipe.scard(self.owned_key(node))
                counts = await pipe.execute()
        return {node: int(count) for node, count in zip(nodes, counts)}

    async def orphans(self) -> list[SessionView]:
        """The sessions whose owner's lease is gone, stopped ones too (else nothing could start
        or delete them again): :meth:`claim` them with ``takeover=True`` (the claim decides,
        atomically). Only what dead nodes owned and what was handed over is read: with every
        node alive this costs one read of the node list and of one empty set, however many
        sessions the cluster runs."""
        dead = [view.node for view in await self.nodes() if not view.alive]
        with reachable("listing the orphans"):
            ids = await self.redis.sunion([self._orphans_key, *(self.owned_key(n) for n in dead)])
        found = await self._read_many(sorted(text(i) for i in ids))
        return [view for view in found if not view.owner_alive]

    async def release(self, session_id: str, token: int) -> bool:
        """Forget a deleted session if this node owns it with ``token``; False if stale. Its
        token is kept, so a session created again under this id never reuses one."""
        with reachable(f"releasing session {session_id}"):
            done = await self._release(keys=[self.session_key(session_id), self._sessions_key,
                                             self.owned_key(self.node), self._orphans_key],
                                       args=[self.node, str(token), session_id])
        return int(done) == 1

    async def disown(self, session_id: str, token: int, record: Mapping[str, Any]) -> bool:
        """Hand a session this node owns with ``token`` over to whichever node takes it next
        (a drain): no owner, ``record`` stored; False (nothing changed) if the token is stale."""
        with reachable(f"handing session {session_id} over"):
            done = await self._disown(keys=[self.session_key(session_id), self.owned_key(self.node),
                                            self._orphans_key],
                                      args=[self.node, str(token), json.dumps(dict(record)), session_id])
        return int(done) == 1

    @property
    def _key_key(self) -> str:
        return f"{self.prefix}secret"

    async def cluster_key(self, keep: str = "") -> str:
        """The cluster's own key (nodes forwarding requests to each other present it): made once
        by whichever node asks first, the same for every node afterwards. ``keep``: the key this
        node knows, set again where Redis lost it (so that the nodes go on agreeing)."""
        key = self._key_key
        with reachable("reading the cluster key"):
            await self.redis.set(key, keep or secrets.token_urlsafe(32), nx=True)
            value = await self.redis.get(key)
        if value is None:
            raise ClusterUnavailable("the cluster's Redis lost the cluster key as it was read")
        return text(value)

    async def set_draining(self, node: str, draining: bool) -> None:
        """Mark ``node`` draining (no new session placed on it) or not; it stays so across its
        renewals and restarts until changed. NotFound if that node never registered."""
        await self._set_node_word(node, "draining", draining, "marking draining")

    async def _set_node_word(self, node: str, field: str, value: Any, doing: str) -> None:
        if not node:
            raise InvalidRequest("a node id is required")
        with reachable(f"{doing} node {node}"):
            done = await self._set_word(keys=[self._nodes_key], args=[node, field, json.dumps(value)])
        if int(done) != 1:
            raise NotFound(f"no node {node!r} in the cluster")

    async def set_tags(self, node: str, tags: list[str]) -> None:
        """Give ``node`` these tags (replacing its previous ones; [] clears them); they stay
        across its renewals and restarts. NotFound if that node never registered."""
        await self._set_node_word(node, "tags", sorted(set(tags)), "tagging")

    async def forget_node(self, node: str) -> None:
        """Drop a retired node from the node list. NotFound if it never registered; Conflict
        while its lease is alive or it owns sessions (wait until they were taken over)."""
        with reachable(f"forgetting node {node}"):
            done = int(await self._forget_node(
                keys=[self._nodes_key, self.lease_key(node), self.owned_key(node), f"{self.prefix}mark:{node}"],
                args=[node]))
        if done == 0:
            raise NotFound(f"no node {node!r} in the cluster")
        if done == -1:
            raise Conflict(f"node {node!r} is alive (its lease is held): stop it first")
        if done == -2:
            raise Conflict(f"node {node!r} still owns sessions: wait until the other nodes took them "
                           "over (one lease after it stopped)")
