"""The supervisor's lease on this worker (fencing, issue 17): until when it may run Chrome.

A cluster node may freeze (SIGSTOP, a long pause, a partition from Redis) while its workers
and their Chromes run on; once its node lease has expired another node starts its sessions,
and two Chromes for one WhatsApp account must never run. So the node's supervisor extends a
lease on each of its workers (OP_LEASE, or the boot spec's ``lease_until_monotonic``), and a
worker whose lease lapses kills its Chrome by itself (worker.watchers.watch_lease). Without a
lease (a single host) nothing of this happens. The times are absolute, on CLOCK_MONOTONIC:
protocol.LeaseArgs says why.
"""

from __future__ import annotations

import asyncio
import math
import time

__all__ = ["Lease", "valid_until"]


def valid_until(value: object) -> float | None:
    """``value`` as a lease's time if it is a finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


class Lease:
    """The worker's lease: none until the supervisor gives one, then a deadline that only the
    supervisor moves, and that nothing moves once it has passed."""

    def __init__(self) -> None:
        self._until: float | None = None
        self._changed = asyncio.Event()

    @property
    def until(self) -> float | None:
        """The deadline on CLOCK_MONOTONIC; None: no lease (the worker runs unfenced)."""
        return self._until

    def lapsed(self) -> bool:
        """True once a lease was given and its deadline has passed."""
        return self._until is not None and time.monotonic() >= self._until

    def extend(self, until_monotonic: float) -> bool:
        """Replace the deadline (the newest word of the supervisor wins, also a shorter one);
        False, changing nothing, if the lease has lapsed already: it is never revived, since
        the session may be starting elsewhere by now."""
        if self.lapsed():
            return False
        self._until = until_monotonic
        self._changed.set()
        return True

    async def wait_lapsed(self) -> float:
        """Return once the deadline has passed without a later one; the deadline."""
        while True:
            self._changed.clear()
            until = self._until
            if until is None:
                await self._changed.wait()
                continue
            remaining = until - time.monotonic()
            if remaining <= 0:
                return until
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass  # due: checked again above (a timer may fire a hair early)
