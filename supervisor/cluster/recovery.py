"""When Redis forgets: a node puts back what it knows.

Redis can come back empty (AOF off, a FLUSHALL, a replica promoted without the data) or lose one
session's hash. A node that then finds no record where it holds a token does not take this as
"owned elsewhere" (that would stop and forget sessions nobody else runs); it claims them again.
Each claim's token goes on above what the node held and above its snapshot stamp, so tokens
never go back: a snapshot taken afterwards still sorts after every older one, and whatever held
an older token stays fenced. The running workers are not touched (the claim is atomic: no other
node can own them meanwhile).

Redis's loss of everything is seen by the node's own mark (``zv:mark:{node}``, set as it joins,
never deleted) being gone, or the cluster key (``zv:secret``) gone or another one (a node that
joined after the loss made a new one). Then the node sets its mark again, and the key it knows
where there is none (or takes the new one: the nodes converge on what Redis holds),
claims every session it has, stopped ones included (their ids are the cluster's, and their
snapshots' tokens must stay the highest), shares their webhooks again, writes their states,
and brings its copy of the roles.
"""

from __future__ import annotations

from collections.abc import Iterable

from supervisor.cluster.core import NodeCore
from supervisor.cluster.gate import ClusterGate, record_of
from supervisor.logs import get_logger

__all__ = ["Recovery"]

_log = get_logger()


class Recovery:
    """Claims again what Redis lost, for one node."""

    def __init__(self, node: NodeCore, gate: ClusterGate) -> None:
        self.node = node
        self.gate = gate

    async def reclaim(self, session_ids: Iterable[str]) -> list[str]:
        """Claim these local sessions again, tokens above the node's own; the ids claimed."""
        node = self.node
        claimed = []
        for session_id in sorted(session_ids):
            session = node.registry.sessions.get(session_id)
            if session is None:
                continue
            floor = max(node.tokens.get(session_id, 0), self.gate.stamped(session_id))
            token = await node.coord.claim(session_id, record=record_of(session), floor=floor)
            if token is None:
                continue  # another node claimed it first: the next verify says so
            if session_id in node.tokens:
                node.tokens[session_id] = token
            node.events.relay.hooks_changed(session_id)
            claimed.append(session_id)
        if claimed:
            _log.warning("cluster.sessions_reclaimed", node=node.node_id, sessions=len(claimed))
        return claimed

    async def after_loss(self, key: str | None) -> list[str]:
        """Redis lost its data (its cluster key is now ``key``): put back what this node knows.
        The ids claimed."""
        node = self.node
        known = node.key
        node.key = await node.coord.cluster_key(keep=known if key is None else key)
        claimed = await self.reclaim(list(node.registry.sessions))
        node.states.note_all((s.id, str(s.state)) for s in node.registry.sessions.values())
        roles = await node.roles.bring() if node.roles is not None else []
        await node.coord.mark()  # last: a step that failed (ClusterUnavailable) is done again
        _log.warning("cluster.redis_data_lost", node=node.node_id, reclaimed=len(claimed),
                     roles_brought=roles, key_changed=node.key != known)
        return claimed
