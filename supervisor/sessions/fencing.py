"""Worker leases (fencing, issue 17): a worker whose daemon stops vouching for it kills its
Chrome by itself.

A cluster node may freeze (SIGSTOP, a long pause, a partition from Redis) while its workers and
their Chromes run on; once its Redis lease has expired another node starts its sessions, and two
Chromes for one WhatsApp account must never run. So every worker of a cluster node runs under a
lease on CLOCK_MONOTONIC (``time.monotonic()``, the same clock in every process of the host; see
protocol.LeaseArgs): past its deadline with no later one, it SIGKILLs Chrome's whole tree and
exits EXIT_FENCED, which the session takes as no crash (exits.Action.FENCED): it goes FAILED with
a reason that starts with "fenced", is not restarted, does not count towards the crash breaker,
and :attr:`Fencing.on_fenced` is called. A single host never sets a lease: nothing changes there.

What the cluster layer does:

- before it starts any session, and on each renewal of its node lease: ``fencing.renew(until)``
  (``Registry.fencing``), so that every worker boots with a lease (boot spec
  ``lease_until_monotonic``): no worker of a cluster node ever runs without one;
- on each renewal, for each session it owns: ``session.extend_lease(until)`` (one small frame to
  its live worker, not awaited; also while it stops, so that a graceful close is not cut short);
  a session it no longer owns is simply not extended, and fences itself;
- ``until`` = :func:`worker_deadline` (the monotonic time taken just BEFORE the Redis write that
  renewed the node lease, and ``lease_s``), extended only after that write succeeded: the
  worker's deadline then falls before the Redis key can expire, whatever the delays after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from supervisor.errors import ZapvisorError
from worker import protocol

__all__ = ["FENCE_AHEAD", "Fencing", "Gate", "worker_deadline"]

#: The share of the node lease a worker's lease ends before: time for the worker to notice and
#: kill Chrome before another node may claim the session. With renewals every lease_s / 3, a
#: worker then outlives one failed renewal (lease_s * 3/4 > lease_s * 2/3).
FENCE_AHEAD = 0.25


def worker_deadline(renewal_started_at: float, lease_s: float) -> float:
    """A worker's lease time for a node lease of ``lease_s`` whose renewal (the Redis write)
    began at ``renewal_started_at`` (``time.monotonic()``, read before the write)."""
    return renewal_started_at + lease_s * (1.0 - FENCE_AHEAD)


class Gate(Protocol):
    """The cluster's side of each start and each end of a session's Chrome (cluster/gate.py)."""

    async def acquire(self, session: Any) -> None:
        """Claim the session before a start (raises when it must not start here)."""

    async def closed(self, session: Any, orderly: bool) -> None:
        """Its Chrome is gone (``orderly``: closed in order, the profile whole). Never raises."""

    async def deleted(self, session_id: str) -> None:
        """The session was deleted: forget it in the cluster."""

    async def register(self, session_id: str, record: dict[str, Any]) -> None:
        """A new session: make it the cluster's, owned here (raises if the id is taken)."""

    async def changed(self, session: Any) -> None:
        """The session's record changed here (metadata, options): the cluster's copy too."""


class Fencing:
    """The leases of this daemon's workers: one per daemon, shared by its sessions
    (SessionContext.fencing). Unset on a single host: its workers run without a lease."""

    def __init__(self) -> None:
        self.until: float | None = None  # the lease every new worker boots with; None: no lease
        #: Called (session id, reason) when a session's worker fenced itself, the session being
        #: FAILED by then: the cluster layer decides what follows (e.g. check who owns it now).
        self.on_fenced: Callable[[str, str], None] | None = None
        #: The cluster's gate around each start and each end of Chrome (None on a single host).
        self.gate: Gate | None = None
        #: Sessions the cluster held back (FAILED: fenced, or their claim refused): the cluster
        #: node starts them again, or forgets them, once it knows who owns them.
        self.held: set[str] = set()

    def renew(self, until_monotonic: float) -> None:
        """Every worker started from now on boots with this lease (live workers are extended
        one by one: Session.extend_lease)."""
        self.until = until_monotonic

    def fenced(self, session_id: str, reason: str) -> None:
        """Tell the cluster layer that ``session_id``'s worker fenced itself."""
        self.held.add(session_id)
        if self.on_fenced is not None:
            self.on_fenced(session_id, reason)

    async def claim(self, session: Any) -> str | None:
        """Before each start: None if it may start here, else why not (the session is held
        back: the cluster node starts it again, or forgets it, once it knows who owns it)."""
        if self.gate is None:
            return None
        try:
            await self.gate.acquire(session)
        except ZapvisorError as exc:
            self.held.add(session.id)
            return exc.message
        return None

    async def closed(self, session: Any, worker: Any) -> None:
        """After each end of the session's worker (``worker``: its WorkerProcess): tell the gate,
        and whether Chrome closed in order (asked to stop, and the worker exited cleanly)."""
        if self.gate is not None and worker is not None:
            await self.gate.closed(session, worker.returncode == protocol.EXIT_OK
                                   and worker.exit_kind == protocol.ExitKind.STOP)

    async def deleted(self, session_id: str) -> None:
        """After a session's deletion here: the cluster forgets it too."""
        self.held.discard(session_id)
        if self.gate is not None:
            await self.gate.deleted(session_id)

    async def register(self, session_id: str, record: dict[str, Any]) -> None:
        """Before a session is created here: the cluster's id, owned by this node (raises
        Conflict if another node has a session of that id)."""
        if self.gate is not None:
            await self.gate.register(session_id, record)

    async def changed(self, session: Any) -> None:
        """After a change of the session's record here (metadata, options): the cluster's too,
        so that the node taking it over runs it as it was meant to run."""
        if self.gate is not None:
            await self.gate.changed(session)
