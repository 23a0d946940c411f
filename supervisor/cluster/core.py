"""What a node's gate and failover share with the node itself (cluster/node.py fills it in):
its id, config and registry, its coordinator and lease keeper, its snapshot store, and the
fencing tokens of the sessions it runs. Its own module so that the gate and the failover need
not import the node, which is built from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.config import Config
from supervisor.errors import ClusterUnavailable

if TYPE_CHECKING:
    from supervisor.cluster.coord import Coordinator
    from supervisor.cluster.events import ClusterEvents
    from supervisor.cluster.lease import LeaseKeeper
    from supervisor.cluster.rolebook import ClusterRoleBook
    from supervisor.cluster.snapshots import Snapshots
    from supervisor.cluster.states import StateMirror
    from supervisor.sessions.registry import Registry

__all__ = ["NodeCore"]


class NodeCore:
    """A node's shared state (its attributes are set by ClusterNode)."""

    node_id: str
    config: Config
    registry: Registry
    coord: Coordinator
    keeper: LeaseKeeper
    snapshots: Snapshots | None
    events: ClusterEvents
    roles: ClusterRoleBook | None
    states: StateMirror
    #: The cluster's own key, as this node knows it (nodes forwarding requests present it).
    key: str
    lease_s: float
    #: Session id -> the fencing token this node claimed it with, while it runs here.
    tokens: dict[str, int]

    def check_lease(self) -> None:
        """Refuse to start anything while the lease is not surely held."""
        if not self.keeper.healthy:
            raise ClusterUnavailable(f"node {self.node_id} cannot renew its lease "
                                     f"({self.keeper.last_error or 'not yet renewed'}): it starts nothing")
