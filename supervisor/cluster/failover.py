"""Sessions that move: the takeover of orphans, and draining a node.

An orphan is a session whose owner's lease is gone (the node died, froze past its lease, or was
drained and handed it over); one whose record says it should run is started by its taker, a
stopped one is kept stopped (so that it can be started, changed or deleted again). Every node looks for
orphans on its watch cadence; the live, non-draining nodes with room are ranked by load (the
same ranking placement uses) and the orphans, sorted by id, are dealt to them in turn (each to
the nodes that have the tags it asks for, its ``node_tags``), so the nodes agree on who takes
which without talking, and the sessions of a dead node spread over the others. The claim (``takeover=True``) is the atomic decision: two nodes can never both win.
The taker adopts the record and starts the session; its start restores the newest snapshot.

A node comes back from the dead knowing nothing of what moved: at boot, and whenever a verify
finds a token stale, the sessions it no longer owns are stopped and forgotten here (their
profile copy stays until a start restores a newer snapshot over it).
"""

from __future__ import annotations

from typing import Any

from supervisor.cluster.core import NodeCore
from supervisor.cluster.gate import record_of
from supervisor.cluster.placement import fits, load
from supervisor.cluster.views import SessionView
from supervisor.errors import ZapvisorError
from supervisor.logs import get_logger

__all__ = ["Failover"]

_log = get_logger()
#: What a taker keeps of a session's record besides its metadata and options, with its type.
_IDENTITY: dict[str, type | tuple[type, ...]] = {"phone_number": str, "first_login_at": (int, float),
                                                 "first_login_phone": str}


def _tags_of(view: SessionView) -> frozenset[str]:
    options = view.record.get("options")
    tags = options.get("node_tags") if isinstance(options, dict) else None
    return frozenset(str(t) for t in tags) if isinstance(tags, list) else frozenset()


class Failover:
    """Takes this node's share of the orphans over; drains this node."""

    def __init__(self, node: NodeCore) -> None:
        self.node = node
        self._waiting: set[str] = set()  # orphans no node may take now (said once)

    async def take_orphans(self) -> list[str]:
        """One pass: claim and start this node's share of the orphans; their ids."""
        node = self.node
        if not node.keeper.healthy:
            return []
        orphans = await node.coord.orphans()
        if not orphans:
            return []
        ranked = sorted(await node.coord.alive_nodes(), key=load)
        taken = []
        for i, view in enumerate(sorted(orphans, key=lambda v: v.session_id)):
            # Only the nodes with room and the tags it asks for; every node deals alike.
            fit = [n for n in ranked if fits(n, _tags_of(view))]
            if fit:
                self._waiting.discard(view.session_id)
            elif view.session_id not in self._waiting:
                self._waiting.add(view.session_id)  # said once, not at every watch
                _log.warning("cluster.orphan_waiting", session_id=view.session_id, previous=view.owner or None,
                             tags=sorted(_tags_of(view)), reason="no live node with room has its node_tags")
            if not fit or fit[i % len(fit)].node != node.node_id:
                continue
            # Before the claim: if Redis cannot say, the orphan waits for the next pass.
            hooks = await node.events.relay.hooks_of(view.session_id)
            token = await node.coord.claim(view.session_id, takeover=True)
            if token is None:
                continue  # another node was faster, or the owner came back
            try:
                node.events.adopt_hooks(view.session_id, hooks)  # before its first event here
                await self._adopt(view)
            except ZapvisorError as exc:  # full here after all, a bad record: let another try
                _log.warning("cluster.takeover_failed", session_id=view.session_id, error=exc.message)
                await node.coord.disown(view.session_id, token, view.record)
                continue
            taken.append(view.session_id)
            _log.info("cluster.takeover", session_id=view.session_id, previous=view.owner or None,
                      token=view.token)
        return taken

    async def _adopt(self, view: SessionView) -> None:
        record: dict[str, Any] = view.record
        session = await self.node.registry.adopt(view.session_id, metadata=record.get("metadata") or {},
                                                 options=record.get("options") or {},
                                                 start=view.desired == "running")
        # The account it is logged in as, and since when (its send warm-up counts from there),
        # before its runner first runs (no await in between).
        carried = {key: record[key] for key in _IDENTITY if isinstance(record.get(key), _IDENTITY[key])}
        if carried:
            session.update_record(**carried)

    async def forget_foreign(self, stale: set[str]) -> None:
        """Stop and forget the sessions another node owns now."""
        registry = self.node.registry
        for session_id in sorted(stale):
            self.node.tokens.pop(session_id, None)
            if session_id in registry.sessions:
                await registry.forget(session_id, "another node owns it now")
                _log.warning("cluster.session_fenced", session_id=session_id)

    async def reconcile(self) -> tuple[int, set[str]]:
        """At boot: forget the local sessions another node owns now (they moved while this one
        was away). Returns how many were forgotten, and the local sessions Redis knows nothing
        of (it lost them while this node was away: recovery.py claims them again). One read
        for all of them."""
        node = self.node
        views = await node.coord.records(sorted(node.registry.sessions))
        foreign = {v.session_id for v in views if v.owner not in ("", node.node_id)}
        await self.forget_foreign(foreign)
        return len(foreign), set(node.registry.sessions) - {v.session_id for v in views}

    async def drain(self) -> list[str]:
        """Stop every session here in order (each snapshot taken as Chrome closes), hand each
        one that should run over to the other nodes; their ids."""
        node = self.node
        await node.coord.set_draining(node.node_id, True)
        moved = []
        for session in list(node.registry.sessions.values()):
            if session.record.desired != "running":
                continue
            await node.registry.stop(session.id, "node draining")
            view = await node.coord.record(session.id)
            if view is None or view.owner != node.node_id:
                continue
            if await node.coord.disown(session.id, view.token, record_of(session, "running")):
                await node.registry.forget(session.id, "moved off a draining node")
                moved.append(session.id)
        _log.info("cluster.drained", node=node.node_id, moved=len(moved))
        return moved
