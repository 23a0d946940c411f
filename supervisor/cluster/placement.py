"""Where a new session goes: the least-loaded live node that takes new sessions (and has the
tags the session asks for, its ``node_tags`` option).

A pure function of the nodes' views (no Redis), so that it is tested alone and every node
decides the same way from the same listing. Load is the share of a node's ``max_sessions`` in
use, then its memory; ties go to the node id, so the answer does not depend on listing order.
"""

from __future__ import annotations

from collections.abc import Sequence

from supervisor.cluster.views import NodeView
from supervisor.errors import Conflict, InvalidRequest, TooManySessions

__all__ = ["choose_node", "fits", "load"]


def load(node: NodeView) -> tuple[float, float, str]:
    """A node's sort key: sessions/max_sessions, then memory in MB, then its id."""
    share = node.sessions / node.max_sessions if node.max_sessions > 0 else float("inf")
    return (share, node.memory_mb, node.node)


def _unfit(node: NodeView, tags: frozenset[str] = frozenset()) -> str:
    """Why ``node`` takes no new session (asking for ``tags``), or ""."""
    if not node.alive:
        return "is not alive (its lease expired)"
    if node.draining:
        return "is draining"
    if not tags <= node.tags:
        return f"lacks the tag(s) {', '.join(sorted(tags - node.tags))}"
    if not node.has_room:
        return f"is full ({node.sessions} of {node.max_sessions} sessions)"
    return ""


def fits(node: NodeView, tags: frozenset[str]) -> bool:
    """Whether ``node`` may take a session asking for ``tags`` now (a takeover too)."""
    return not _unfit(node, tags)


def choose_node(nodes: Sequence[NodeView], pinned: str | None = None,
                tags: frozenset[str] = frozenset()) -> NodeView:
    """The node a new session goes to.

    ``pinned`` names the node the caller asked for: it is that one or an error (InvalidRequest
    if unknown, Conflict if dead, draining or without the session's ``tags``, TooManySessions if
    full). Otherwise the least loaded live, non-draining node with room and every one of
    ``tags``; TooManySessions (429) naming why each node was passed over when none fits.
    """
    if pinned:
        chosen = next((node for node in nodes if node.node == pinned), None)
        if chosen is None:
            known = ", ".join(sorted(node.node for node in nodes)) or "none"
            raise InvalidRequest(f"no node {pinned!r} in the cluster (nodes: {known})")
        why = _unfit(chosen, tags)
        if not why:
            return chosen
        if chosen.alive and not chosen.draining and tags <= chosen.tags:
            raise TooManySessions(f"node {pinned} {why}")
        raise Conflict(f"node {pinned} {why}")
    fit = [node for node in nodes if not _unfit(node, tags)]
    if fit:
        return min(fit, key=load)
    if not nodes:
        raise TooManySessions("no node in the cluster has registered: no session can be placed")
    reasons = "; ".join(f"{node.node} {_unfit(node, tags)}" for node in sorted(nodes, key=lambda n: n.node))
    raise TooManySessions(f"no live node can take another session: {reasons}")
