"""The task that keeps this node's lease, and the local bound on how long the node surely holds it.

Redis lets the lease key expire ``lease_s`` after the SET that renewed it was *executed*, which
is after the request was *sent*. So ``sent + lease_s`` (this host's monotonic clock) is a lower
bound of the expiry as Redis sees it, whatever the network did; :attr:`LeaseKeeper.valid_until`
takes 80 % of it, leaving the rest for clock rate differences and for stopping Chrome. Past
``valid_until`` without a renewal (a Redis outage, a partition, this process frozen), other nodes
may soon take this node's sessions: the owner of the keeper stops every session first (the node
fences itself) and claims them again once :attr:`healthy`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from supervisor.cluster.coord import Coordinator
from supervisor.cluster.views import NodeView
from supervisor.errors import ClusterUnavailable
from supervisor.logs import get_logger

__all__ = ["SAFETY", "LeaseKeeper"]

#: The share of a lease this node counts on after sending a renewal that succeeded.
SAFETY = 0.8

_log = get_logger()


class LeaseKeeper:
    """Renews the coordinator's lease every ``lease_s / 3`` with ``info()`` (the node's url,
    capacity and load now) until cancelled; the one who starts :meth:`run` awaits it."""

    def __init__(self, coordinator: Coordinator, lease_s: float,
                 info: Callable[[], Mapping[str, Any]]) -> None:
        self.coordinator = coordinator
        self.lease_s = lease_s
        self.info = info
        self.interval_s = lease_s / 3
        #: time.monotonic() until which the lease surely holds (0: never renewed).
        self.valid_until = 0.0
        #: The node's entry as the last successful renewal stored it (``draining`` in it is the
        #: cluster's word).
        self.view: NodeView | None = None
        self.renewals = 0
        self.failures = 0
        self.last_error = ""
        self._ok = False

    @property
    def healthy(self) -> bool:
        """The last renewal succeeded and its lease surely still holds."""
        return self._ok and time.monotonic() < self.valid_until

    def remaining_s(self) -> float:
        """Seconds left until :attr:`valid_until` (negative once past it)."""
        return self.valid_until - time.monotonic()

    async def renew_once(self) -> bool:
        """One renewal, bounded by the interval (a hung call must not stall the next one)."""
        sent = time.monotonic()
        try:
            # asyncio.timeout, not wait_for: on 3.11, wait_for may swallow the cancellation that
            # stops the keeper when it lands as the renewal completes (the daemon then never ends).
            async with asyncio.timeout(self.interval_s):
                view = await self.coordinator.renew(self.info())
        except (ClusterUnavailable, TimeoutError) as exc:
            self.failures += 1
            self.last_error = str(exc) or "the renewal timed out"
            if self._ok or (self.renewals == 0 and self.failures == 1):
                _log.warning("cluster.lease_renewal_failed", node=self.coordinator.node,
                             error=self.last_error, valid_for_s=round(self.valid_until - sent, 3))
            self._ok = False
            return False
        self.valid_until = max(self.valid_until, sent + self.lease_s * SAFETY)
        self.view = view
        self.renewals += 1
        if not self._ok:
            _log.info("cluster.lease_held", node=self.coordinator.node,
                      incarnation=self.coordinator.incarnation, renewals=self.renewals,
                      failures=self.failures)
        self._ok = True
        return True

    async def run(self) -> None:
        """Renew at once, then every ``lease_s / 3`` (from each attempt's start) until cancelled."""
        while True:
            started = time.monotonic()
            await self.renew_once()
            await asyncio.sleep(max(0.0, started + self.interval_s - time.monotonic()))
