"""What the API asks a cluster node (cluster/node.py): who owns a session and where its node
answers, where a new session goes, every live node's address, one call to a peer, and the
cluster's status. The node's state (its coordinator, its peers' HTTP client, the cluster's key)
is set by ClusterNode."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp

from supervisor.cluster import FORWARDED_BY
from supervisor.cluster.core import NodeCore
from supervisor.cluster.placement import choose_node
from supervisor.errors import ClusterUnavailable, Unavailable

__all__ = ["NodeApi"]


class NodeApi(NodeCore):
    """A node as the API sees it."""

    url: str
    key: str
    peer_timeout_s: float
    _http: aiohttp.ClientSession | None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client for the peers' APIs (forwarding, listings)."""
        if self._http is None:
            raise Unavailable("the cluster node is not open")
        return self._http

    def local_ids(self) -> set[str]:
        """The sessions this node has a record of (it owns them, or owned them last)."""
        return set(self.registry.sessions)

    async def owner_url(self, session_id: str) -> str | None:
        """The API of the live node that owns ``session_id``, if not this one; None when this
        node should answer (it owns it, or nobody knows it: a 404 follows). Unavailable while
        the session is between nodes."""
        view = await self.coord.record(session_id)
        if view is None or view.owner == self.node_id:
            return None
        if not view.owner_alive:
            raise Unavailable(f"session {session_id!r} is moving: its node {view.owner or '(none)'} "
                              "is gone or drained, another node takes it over within "
                              f"{self.lease_s:g}s", retry_after_s=max(1, round(self.lease_s / 3)))
        return (await self.node_urls()).get(view.owner)

    async def node_urls(self) -> dict[str, str]:
        """Every live node's API."""
        return {n.node: n.url for n in await self.coord.alive_nodes() if n.url}

    async def until_gone(self, url: str) -> None:
        """Return once no live node answers at ``url`` (its lease expired), looking every
        ``lease_s / 3``; while Redis cannot say, keep waiting."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                if url not in (await self.node_urls()).values():
                    return
            except ClusterUnavailable:
                continue

    async def peer_urls(self) -> dict[str, str]:
        """Every other live node's API."""
        return {node: url for node, url in (await self.node_urls()).items() if node != self.node_id}

    async def placement_url(self, pinned: str | None, tags: frozenset[str] = frozenset()) -> str | None:
        """Where a new session (asking for node ``tags``) goes: None for this node, else the
        chosen node's API. A node's
        load is the number of sessions it owns in Redis (its owned set, which each create's
        claim adds to before it answers), not the count its last renewal reported: creates in a
        row, from any nodes, see each other at once."""
        views = await self.coord.alive_nodes()
        owned = await self.coord.owned_counts([view.node for view in views])
        chosen = choose_node([dataclasses.replace(view, info={**view.info, "sessions": owned[view.node]})
                              for view in views], pinned, tags)
        return None if chosen.node == self.node_id else chosen.url

    async def ask(self, url: str, method: str, path: str) -> Any:
        """One call to a peer with the cluster key; its JSON answer (errors passed on)."""
        headers = {"X-Api-Key": self.key, FORWARDED_BY: self.node_id}
        try:
            async with self.http.request(method, url + path, headers=headers) as resp:
                body = await resp.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise Unavailable(f"node at {url} cannot be reached: {exc.__class__.__name__}") from None
        if resp.status >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise Unavailable(f"node at {url} answered {resp.status}: {error.get('message', '')}")
        return body

    async def status(self) -> dict[str, Any]:
        """Nodes with their leases and load, and where each session runs."""
        nodes = await self.coord.nodes()
        sessions = await self.coord.sessions()
        return {
            "node": self.node_id, "lease_s": self.lease_s,
            "snapshots": self.config.snapshots.url.split("://", 1)[0] if self.snapshots else "",
            "nodes": [{"node": n.node, "url": n.url, "alive": n.alive, "draining": n.draining,
                       "sessions": n.sessions, "max_sessions": n.max_sessions,
                       "memory_mb": n.memory_mb, "lease_age_s": round(n.age_s, 2) if n.alive else None,
                       "tags": sorted(n.tags),
                       "self": n.node == self.node_id} for n in nodes],
            "sessions": [{"session": v.session_id, "node": v.owner or None, "token": v.token,
                          "alive": v.owner_alive, "desired": v.desired} for v in sessions],
            "webhook_shards": await self.events.shards.owners(),
        }

