"""What a session asks the cluster around its Chrome: the claim before it starts, and the
snapshot after Chrome closed in order.

- Before a start (the first, and each restart or recycle): the node claims the session in
  Redis, which hands out a new fencing token (a start on a stale token is impossible: the claim
  is the check). A session another live node owns is refused (``Conflict``) and never started.
  If the newest snapshot was taken elsewhere since this node's copy of the profile (its token is
  higher than the one stamped in ``sessions/<id>/snapshot-token``), it is restored first: the
  session comes back logged in, without a QR.
- After Chrome closed in order (stop, recycle, drain, the daemon's shutdown; never after a
  crash or a kill, when the profile may be torn): if the token is still this node's, the profile
  is archived, stamped with the token and uploaded. A live profile is never copied.
- The session's record (desired state, metadata, options) goes to Redis with each claim and
  each change of desired state, so the node that takes it over knows how to run it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervisor.cluster.backoff import RestoreBackoff
from supervisor.cluster.core import NodeCore
from supervisor.errors import ClusterUnavailable, Conflict, ZapvisorError
from supervisor.logs import get_logger
from supervisor.states import State

if TYPE_CHECKING:
    from supervisor.sessions.session import Session

__all__ = ["ClusterGate", "record_of"]

_log = get_logger()
_STAMP = "snapshot-token"
#: Seconds a session stays WORKING before its new login is snapshotted (the page stores the
#: login as it finishes linking; a recycle in that moment would only delay it).
_SETTLE_S = 5.0


def record_of(session: Session, desired: str | None = None) -> dict[str, Any]:
    """What another node needs to run ``session``: its record, as JSON."""
    rec = session.record
    return {"desired": desired or rec.desired, "metadata": rec.metadata, "options": rec.options,
            "created_at": rec.created_at, "phone_number": rec.phone_number,
            "first_login_at": rec.first_login_at, "first_login_phone": rec.first_login_phone}


class ClusterGate:
    """The cluster's side of each session's run (sessions/context.py hands it to sessions)."""

    def __init__(self, node: NodeCore) -> None:
        self.node = node
        #: Sessions that showed a QR code since their last snapshot: a login to save soon.
        self.logins: set[str] = set()
        self._restores = RestoreBackoff()

    def on_event(self, event: dict[str, Any]) -> None:
        """Bus listener: a session waiting for a scan is about to hold a new login."""
        if event["event"] == "session.status" and event["payload"].get("state") == "SCAN_QR_CODE":
            self.logins.add(str(event["session"]))

    def due(self, session: Session) -> str | None:
        """Why ``session``'s profile should be snapshotted now (through a short recycle: a
        live profile is never copied), or None: a login made since its last snapshot, once it
        has been WORKING a few seconds; or its last snapshot older than ``[snapshots] every_h``."""
        if self.node.snapshots is None or session.state != State.WORKING:
            return None
        settled = time.time() - session.since >= _SETTLE_S
        if session.id in self.logins:
            return "snapshot of a new login" if settled else None
        every_s = self.node.config.snapshots.every_h * 3600
        if every_s <= 0:
            return None
        try:
            age = time.time() - self._stamp(session.id).stat().st_mtime
        except OSError:
            return None  # never snapshotted here and no login seen: nothing to save yet
        return "periodic snapshot" if age >= every_s and settled else None

    def lease_until(self) -> float | None:
        """The monotonic time the workers' lease runs to (the node's own, surely held)."""
        return self.node.keeper.valid_until

    def _stamp(self, session_id: str) -> Path:
        return self.node.config.layout.session_dir(session_id) / _STAMP

    def stamped(self, session_id: str) -> int:
        """The token of the snapshot this node's copy of the profile holds (0: none)."""
        try:
            return int(self._stamp(session_id).read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _set_stamp(self, session_id: str, token: int) -> None:
        path = self._stamp(session_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{token}\n")
        tmp.replace(path)

    async def register(self, session_id: str, record: dict[str, Any]) -> None:
        """A session created here: claimed in the cluster at once, started or not, so that its
        id is the cluster's (Conflict if another node's session has it)."""
        self.node.check_lease()
        if await self.node.coord.claim(session_id, record=record) is None:
            view = await self.node.coord.record(session_id)
            raise Conflict(f"session {session_id!r} already exists on node "
                           f"{view.owner if view is not None else 'another node'}")

    async def acquire(self, session: Session) -> None:
        """Claim ``session`` for a start (Conflict if another live node owns it), restoring the
        newest snapshot first if it is newer than this node's copy of the profile."""
        node = self.node
        node.check_lease()
        if node.snapshots is not None:
            self._restores.check(session.id)  # before the claim: a paused start costs no token
        token = await node.coord.claim(session.id, record=record_of(session, "running"))
        if token is None:
            view = await node.coord.record(session.id)
            owner = view.owner if view is not None else "another node"
            raise Conflict(f"session {session.id!r} runs on node {owner}")
        node.tokens[session.id] = token
        if node.snapshots is None:
            return
        try:
            latest = await node.snapshots.latest(session.id)
            if latest is None or latest.token <= self.stamped(session.id):
                return
            started = time.monotonic()
            restored = await node.snapshots.restore(session.id, Path(session.profile_dir))
        except (ZapvisorError, OSError) as exc:
            self._restores.failed(session.id, exc)
            raise
        self._restores.succeeded(session.id)
        if restored is not None:
            # The newest, even when an older one was restored in its place (it was refused):
            # the next start restores nothing over what this copy learnt since.
            self._set_stamp(session.id, latest.token)
            _log.info("cluster.snapshot_restored", session_id=session.id, token=restored.token,
                      newest=latest.token, size_bytes=restored.size_bytes,
                      seconds=round(time.monotonic() - started, 3))

    async def closed(self, session: Session, orderly: bool) -> None:
        """Chrome is gone: snapshot the profile if it closed in order and the session is still
        this node's. Never raises (the session's stop must go on): a failure is logged."""
        node = self.node
        token = node.tokens.get(session.id)
        if token is None:
            return
        try:
            verdict = await node.coord.verify({session.id: token})
            if verdict.stale or verdict.missing:  # another node owns it now, or Redis forgot:
                node.tokens.pop(session.id, None)  # this copy is stale, or cannot be stamped
                return
            await node.coord.write(session.id, token, record_of(session))
            # Only a logged-in profile: a snapshot of one showing a QR would win every restore.
            if not orderly or node.snapshots is None or not session.record.phone_number:
                return
            started = time.monotonic()
            saved = await node.snapshots.save(session.id, token, Path(session.profile_dir))
            self._set_stamp(session.id, token)
            self.logins.discard(session.id)
            _log.info("cluster.snapshot_saved", session_id=session.id, token=token,
                      size_bytes=saved.size_bytes, seconds=round(time.monotonic() - started, 3))
        except ClusterUnavailable as exc:
            _log.warning("cluster.snapshot_skipped", session_id=session.id, error=exc.message)
        except (ZapvisorError, OSError) as exc:
            _log.error("cluster.snapshot_failed", session_id=session.id, error=str(exc))
        finally:
            node.tokens.pop(session.id, None)  # the next start claims a new one

    async def changed(self, session: Session) -> None:
        """Write the session's record to the cluster, if this node owns it."""
        view = await self.node.coord.record(session.id)
        if view is not None and view.owner == self.node.node_id:
            await self.node.coord.write(session.id, view.token, record_of(session))

    async def deleted(self, session_id: str) -> None:
        """The session was deleted here: forget it in the cluster, and its snapshots."""
        node = self.node
        token = node.tokens.pop(session_id, None)
        view = await node.coord.record(session_id)
        if view is not None and view.owner == node.node_id:
            await node.coord.release(session_id, view.token if token is None else token)
        if node.roles is not None:
            await node.roles.dropped(session_id)
        if node.snapshots is not None:
            await node.snapshots.delete(session_id)
