"""This daemon as a node of a cluster: its lease, the sessions it owns, its watch (peers.py: what
the API asks of it).

Started by the daemon only when ``[cluster] redis_url`` is set. ``open`` joins (the first lease
renewal must succeed, or the daemon does not start), ``run`` keeps the lease and watches the
sessions until cancelled, ``close`` lets go of Redis and the peers' HTTP client.

Every ``lease_s / 3``: the lease is renewed (lease.py); the tokens of the sessions this node
runs are verified in one round trip and a session whose token went stale is stopped at once
(another node owns it now); each live worker's own lease is extended to the node's, so that a
worker whose daemon froze closes its Chrome by itself before anyone may take its session over
(worker/watchers.py). While the lease cannot be renewed, nothing new starts; once it surely
lapsed, every session here is stopped. Orphans (their node's lease expired, or drained) are
taken over by the node placement picks (failover.py).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from supervisor.cluster.coord import Coordinator
from supervisor.cluster.events import ClusterEvents
from supervisor.cluster.failover import Failover
from supervisor.cluster.gate import ClusterGate
from supervisor.cluster.lease import SAFETY, LeaseKeeper
from supervisor.cluster.peers import NodeApi
from supervisor.cluster.recovery import Recovery
from supervisor.cluster.redisclient import connect
from supervisor.cluster.rolebook import ClusterRoleBook
from supervisor.cluster.states import StateMirror
from supervisor.config import Config
from supervisor.errors import ClusterUnavailable, StateError, ZapvisorError
from supervisor.logs import get_logger
from supervisor.sessions.fencing import worker_deadline
from supervisor.version import version

if TYPE_CHECKING:
    from supervisor.cluster.snapshots import Snapshots
    from supervisor.hub import Hub
    from supervisor.sessions.registry import Registry
    from supervisor.sessions.rolebook import LocalRoleBook

__all__ = ["ClusterNode"]

_log = get_logger()


class ClusterNode(NodeApi):
    """One node: its coordinator and lease keeper, the tokens of the sessions it runs, a client
    for its peers' APIs."""

    def __init__(self, config: Config, registry: Registry, snapshots: Snapshots | None, hub: Hub) -> None:
        cluster = config.cluster
        self.config = config
        self.registry = registry
        self.snapshots = snapshots
        self.node_id = cluster.node
        self.url = (cluster.advertise_url or f"http://{socket.gethostname()}:{config.server.port}").rstrip("/")
        self.lease_s = cluster.lease_s
        #: Peers answer a listing or a forwarded call in this time, or are left out.
        self.peer_timeout_s = max(1.0, min(10.0, cluster.lease_s))
        self.redis = connect(cluster.redis_url, timeout_s=max(0.5, cluster.lease_s / 3),
                             client_name=f"zapvisor:{self.node_id}")
        self.coord = Coordinator(self.redis, self.node_id, cluster.lease_s)
        self.keeper = LeaseKeeper(self.coord, cluster.lease_s, self._info)
        #: Session id -> the fencing token this node claimed it with, while it runs here.
        self.tokens: dict[str, int] = {}
        self.key = ""
        self.events = ClusterEvents(hub, cluster.redis_url, self.coord, lambda: self.keeper.healthy)
        self.failover = Failover(self)
        self.gate = ClusterGate(self)
        self.states = StateMirror(self.coord, retry_s=cluster.lease_s / 3)
        self.recovery = Recovery(self, self.gate)
        self.roles: ClusterRoleBook | None = None  # set by join_roles
        self._http: aiohttp.ClientSession | None = None
        self._warned = False
        #: No takeover before this (monotonic): after joining or an outage (see _watch_once).
        self._calm_until = time.monotonic() + cluster.lease_s * 4 / 3

    def _info(self) -> dict[str, Any]:
        sessions = self.registry.sessions.values()
        memory = sum(s.resources.last.get("memory_bytes") or 0 for s in sessions if s.live_worker())
        return {"url": self.url, "max_sessions": self.config.sessions.max_sessions,
                "sessions": sum(1 for s in sessions if s.record.desired == "running"),
                "memory_mb": round(memory / 2**20, 1), "version": version(),
                "webhook_shards": len(self.events.shards.held)}

    async def open(self) -> None:
        """Join: the first renewal must succeed (else StateError: the daemon does not start)."""
        if not await self.keeper.renew_once():
            raise StateError(f"cannot join the cluster: {self.keeper.last_error}")
        self.key = await self.coord.cluster_key()
        await self.coord.mark()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
            total=None, connect=self.peer_timeout_s, sock_connect=self.peer_timeout_s))
        fencing = self.registry.fencing
        fencing.renew(self.worker_until())  # before any start: no worker runs without a lease
        fencing.gate = self.gate
        self.registry.bus.listen(self.gate.on_event)
        self.registry.bus.listen(self.states.on_event)
        self.states.note_all((s.id, str(s.state)) for s in self.registry.sessions.values())
        forgotten, unknown = await self.failover.reconcile()
        await self.recovery.reclaim(unknown)
        await self.events.open(self.registry.sessions)
        _log.info("cluster.joined", node=self.node_id, url=self.url, lease_s=self.lease_s,
                  incarnation=self.coord.incarnation, snapshots=bool(self.snapshots),
                  forgotten=forgotten)

    async def run(self) -> None:
        """Keep the lease and watch the sessions until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.keeper.run(), name="cluster-lease")
            tg.create_task(self._watch(), name="cluster-watch")
            tg.create_task(self.events.run(), name="cluster-events")
            tg.create_task(self.states.run(), name="cluster-states")

    async def join_roles(self, local: LocalRoleBook) -> ClusterRoleBook:
        """The cluster's roles, with this node's own added where the cluster has none of
        their names (a host that ran alone keeps its roles when it joins)."""
        self.roles = ClusterRoleBook(self.coord, local)
        try:
            added = await self.roles.bring()
        except ClusterUnavailable as exc:  # joined a moment ago: brought after the next outage
            _log.warning("cluster.roles_not_added", node=self.node_id, error=exc.message)
        else:
            if added:
                _log.info("cluster.roles_added", node=self.node_id, roles=added)
        return self.roles

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self._watch_once()
                self._warned = False
            except ClusterUnavailable as exc:
                if not self._warned:
                    _log.warning("cluster.watch_failed", node=self.node_id, error=exc.message)
                self._warned = True

    async def _watch_once(self) -> None:
        if not self.keeper.healthy:
            # After an outage, every node gets a lease period to renew and take its own sessions
            # back before any takes over another's (all leases lapsed together).
            self._calm_until = time.monotonic() + self.lease_s * 4 / 3
            if self.fenced():
                await self._fence_all()
            return  # the workers' leases run out by themselves if this lasts
        verdict = await self.coord.verify(dict(self.tokens))
        if verdict.key != self.key or not verdict.marked:
            await self.recovery.after_loss(verdict.key)
        elif verdict.missing:
            await self.recovery.reclaim(verdict.missing)
        if verdict.stale:
            await self.failover.forget_foreign(verdict.stale)
        until = self.worker_until()
        self.registry.fencing.renew(until)
        for session in list(self.registry.sessions.values()):
            if session.id in self.tokens:
                session.extend_lease(until)
                why = self.gate.due(session)
                if why is not None and session.request_recycle(why):
                    _log.info("cluster.snapshot_due", session_id=session.id, reason=why)
        await self._settle()
        draining = self.keeper.view is not None and self.keeper.view.draining
        if not draining and time.monotonic() >= self._calm_until:
            await self.failover.take_orphans()

    async def _fence_all(self) -> None:
        """The lease surely lapsed: stop everything here now (others may take it over)."""
        running = [s for s in self.registry.sessions.values() if s.running()]
        if running:
            _log.warning("cluster.fenced", node=self.node_id, sessions=len(running))
        for session in running:
            self.tokens.pop(session.id, None)
            self.registry.fencing.held.add(session.id)  # _settle restarts or forgets it later
            await self.registry.stop(session.id, "fenced: this node lost its cluster lease", keep_desired=True)

    async def _settle(self) -> None:
        """The sessions the cluster held back (fenced, or a claim refused): started again where
        this node still owns them (or nobody does), forgotten where another live node does; an
        orphan of a dead node waits for the takeover pass."""
        held = self.registry.fencing.held
        for session_id in sorted(held):
            session = self.registry.sessions.get(session_id)
            if session is None or session.running() or session.record.desired != "running":
                held.discard(session_id)
                continue
            view = await self.coord.record(session_id)
            if view is not None and view.owner not in ("", self.node_id):
                if view.owner_alive:
                    await self.registry.forget(session_id, f"runs on node {view.owner}")
                continue
            held.discard(session_id)
            try:
                await self.registry.start(session_id)
            except ZapvisorError as exc:
                _log.info("cluster.resume_refused", session_id=session_id, error=exc.message)

    async def drain(self) -> dict[str, Any]:
        """Move every session off this node; it takes no new one until :meth:`undrain`."""
        moved = await self.failover.drain()
        return {"node": self.node_id, "draining": True, "moved": moved}

    async def undrain(self) -> dict[str, Any]:
        """Take sessions again."""
        await self.coord.set_draining(self.node_id, False)
        _log.info("cluster.undrained", node=self.node_id)
        return {"node": self.node_id, "draining": False, "moved": []}

    async def close(self) -> None:
        """Let go of the peers' client and of Redis (the lease expires by itself: a restarted
        node is a new incarnation anyway); the events first (cluster/events.py)."""
        await self.events.close()
        if self._http is not None:
            await self._http.close()
        await self.redis.aclose()

    def worker_until(self) -> float:
        """The workers' lease: a little shorter than the node's, so that they stop first."""
        return worker_deadline(self.keeper.valid_until - self.lease_s * SAFETY, self.lease_s)

    def fenced(self) -> bool:
        """True once this node's lease surely lapsed: nothing of it may run."""
        return self.keeper.renewals > 0 and time.monotonic() >= self.keeper.valid_until


