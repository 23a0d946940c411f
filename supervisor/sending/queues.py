"""Every session's send queue: what the API submits, waits for and cancels, the lanes that
send, and what events tell the queue (a session became WORKING, a chat wrote to us, a session
was deleted).

A lane runs only while its session has open entries (``run`` owns them all, in one task
group); the cost of an idle session is nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from supervisor.config import Config
from supervisor.errors import Conflict, InvalidRequest, RateLimited
from supervisor.events.bus import Event, EventBus
from supervisor.logs import get_logger
from supervisor.sending import limits
from supervisor.sending.lane import Lane, WorkerSend
from supervisor.sending.metrics import QueueMetrics
from supervisor.sending.policy import fingerprint, sending_policy
from supervisor.sending.store import OPEN, Entry, SendStore
from supervisor.sessions import media
from supervisor.sessions.session import Session
from supervisor.settings import SendingConfig
from supervisor.states import State
from supervisor.store import Store
from worker import protocol

__all__ = ["SendQueues"]

_log = get_logger()
_ACCEPTING = (State.WORKING, State.STARTING)  # a restart passes through STARTING
_REQUEST_MARGIN_S = 5.0
_PRUNE_EVERY_S = 3600.0


class SendQueues:
    """The queues of all sessions."""

    def __init__(self, config: Config, store: Store, bus: EventBus,
                 lookup: Callable[[str], Session | None], metrics: CollectorRegistry) -> None:
        self.store = SendStore(store)
        self.metrics = QueueMetrics(self.store, metrics)
        self._config, self._bus, self._lookup = config, bus, lookup
        self._lanes: dict[str, Lane] = {}
        self._running: set[str] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._waiters: dict[int, list[asyncio.Future[Entry]]] = {}
        self._unread: dict[str, set[str]] = {}
        self._policies: dict[str, tuple[str, SendingConfig]] = {}
        bus.listen(self._on_event)

    # -- what the lanes ask -----------------------------------------------------------------

    def lookup(self, session_id: str) -> Session | None:
        """The session, if it still exists."""
        return self._lookup(session_id)

    def policy(self, session: Session) -> SendingConfig:
        """The session's limits and pacing: [sending] with its own overrides."""
        overrides = session.record.options.get("sending") or {}
        key = json.dumps(overrides, sort_keys=True)
        cached = self._policies.get(session.id)
        if cached is None or cached[0] != key:
            policy = sending_policy(self._config.sending, overrides, f"session {session.id}'s sending")
            self._policies[session.id] = cached = (key, policy)
        return cached[1]

    def describe(self, session: Session) -> dict[str, Any]:
        """The session's limits and how much of each is used (for the queue listing)."""
        policy = self.policy(session)
        return limits.usage(policy, self.store, session.id, time.time(), session.record.first_login_at)

    def unread(self, session_id: str) -> set[str]:
        """Chats that wrote to the session since it last answered them."""
        return self._unread.setdefault(session_id, set())

    def send_args(self, session: Session, entry: Entry) -> WorkerSend:
        """The worker operation that sends ``entry``, its arguments and timeout, and what to do
        after (a file is handed over as a link in the session's scratch, removed after)."""
        payload = entry.payload
        replies: dict[str, Any] = {k: payload[k] for k in ("reply_to", "mentions") if k in payload}
        if entry.kind == "text":
            timeout = self._config.whatsapp.send_timeout_s + _REQUEST_MARGIN_S
            return protocol.OP_SEND_TEXT, {"to": entry.chat, "msg_id": entry.msg_id, "queue_id": entry.id,
                                           **replies, "text": payload["text"]}, timeout, lambda: None
        scratch = media.scratch_file(session)
        try:
            os.link(payload["path"], scratch)
        except OSError as exc:
            raise InvalidRequest(f"the file of this send is gone: {exc.strerror}") from None
        args = protocol.SendMediaArgs(to=entry.chat, msg_id=str(entry.msg_id), queue_id=entry.id,
                                      path=str(scratch), kind=entry.kind, mimetype=payload["mimetype"],
                                      filename=payload["filename"], caption=payload.get("caption", ""))
        if "reply_to" in replies:
            args["reply_to"] = replies["reply_to"]
        if "mentions" in replies:
            args["mentions"] = replies["mentions"]
        return (protocol.OP_SEND_MEDIA, args, self._config.media.transfer_timeout_s,
                lambda: scratch.unlink(missing_ok=True))

    def finished(self, entry: Entry, event: str, payload: dict[str, Any]) -> None:
        """An entry reached its end: tell who waits for it, publish ``event``, drop its file."""
        if event:
            self._bus.publish(event, entry.session, payload)
        if entry.sent_at is not None:
            self.metrics.sent(entry.created_at, entry.sent_at)
        for waiter in self._waiters.pop(entry.id, []):
            if not waiter.done():
                waiter.set_result(entry)
        if "path" in entry.payload:
            Path(entry.payload["path"]).unlink(missing_ok=True)

    # -- the API ----------------------------------------------------------------------------

    def files_dir(self, session_id: str) -> Path:
        """Where queued files wait for their send (0700)."""
        folder = self._config.layout.send_files(session_id)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder

    def keep_file(self, session_id: str, staged: Path) -> Path:
        """Move a received upload out of the scratch (swept at every worker boot) into the
        queue's own folder; its new path."""
        kept = self.files_dir(session_id) / secrets.token_hex(16)
        os.replace(staged, kept)
        return kept

    def submit(self, session: Session, chat: str, kind: str, payload: dict[str, Any],
               idem_key: str | None, over_limit: str | None = None) -> tuple[Entry, bool]:
        """Queue a send (stored when this returns) and whether it is new: an Idempotency-Key
        seen in the last ``idempotency_h`` gives the entry it made instead."""
        policy = self.policy(session)
        payload = {**payload, "fingerprint": fingerprint(chat, kind, payload)}
        if idem_key is not None:
            known = self.store.by_idem_key(session.id, idem_key, policy.idempotency_h * 3600)
            if known is not None:
                if known.payload.get("fingerprint") != payload["fingerprint"]:
                    raise Conflict("this Idempotency-Key was used for a different send")
                return known, False
        if session.state not in _ACCEPTING:
            raise Conflict(f"session {session.id!r} is {session.state}; sends are queued while it "
                           "is WORKING or STARTING")
        if (over_limit or policy.over_limit) == "reject":
            now = time.time()
            hold = (limits.check_session(policy, self.store, session.id, now, session.record.first_login_at)
                    or limits.check_chat(policy, self.store, session.id, chat, now))
            if hold is not None:
                wait_s = hold.retry_after_s(now)
                raise RateLimited(f"session {session.id!r} reached its {hold.limit} limit; retry in "
                                  f"{wait_s} s", hold.limit, wait_s)
        entry = self.store.insert(session.id, chat, kind, payload, idem_key)
        self._bus.publish("message.queued", session.id, {"queue_id": entry.id, "to": chat, "kind": kind})
        self.kick(session.id)
        return entry, True

    async def wait(self, entry: Entry, timeout_s: float) -> Entry:
        """``entry`` once it is sent, failed or cancelled, or as it stands after ``timeout_s``."""
        if entry.status in OPEN and timeout_s > 0:
            waiter: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(entry.id, []).append(waiter)
            try:
                return await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
            except TimeoutError:
                pass
            finally:
                waiters = self._waiters.get(entry.id, [])
                if waiter in waiters:
                    waiters.remove(waiter)
        return self.store.get(entry.session, entry.id)

    def cancel(self, session_id: str, entry_id: int) -> Entry:
        """Cancel a queued send; Conflict once its send has begun or ended."""
        entry = self.store.get(session_id, entry_id)
        if not self.store.cancel(entry):
            raise Conflict(f"send {entry_id} is {entry.status}; only a queued send can be cancelled")
        entry = self.store.get(session_id, entry_id)
        self.finished(entry, "message.cancelled", {"queue_id": entry.id, "to": entry.chat, "kind": entry.kind})
        self.kick(session_id)
        return entry

    # -- lanes ------------------------------------------------------------------------------

    def kick(self, session_id: str) -> None:
        """Wake the session's lane, starting it if it is not running."""
        lane = self._lanes.get(session_id)
        if lane is None:
            lane = self._lanes[session_id] = Lane(session_id, self)
        lane.wake.set()
        if session_id not in self._running and self._tg is not None:
            self._running.add(session_id)
            self._tg.create_task(self._drive(lane), name=f"send-lane-{session_id}")

    async def _drive(self, lane: Lane) -> None:
        try:
            await lane.run()
        finally:
            self._running.discard(lane.session_id)
        if lane.wake.is_set():  # something came in after its last look
            self.kick(lane.session_id)

    async def run(self) -> None:
        """Own every lane until cancelled (daemon shutdown): start those with work left, then
        prune finished entries now and then."""
        swept = await asyncio.to_thread(self._sweep_files, self.store.open_files())
        if swept:
            _log.info("sends.files_swept", count=swept)
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            for session_id in self.store.sessions_with_open():
                self.kick(session_id)
            while True:
                pruned = self.prune()
                if pruned:
                    _log.info("sends.pruned", count=pruned)
                await asyncio.sleep(_PRUNE_EVERY_S)

    def _on_event(self, event: Event) -> None:
        session_id, name, data = event["session"], event["event"], event["payload"]
        if session_id is None:
            return
        if name == "session.status" and data.get("state") == State.WORKING:
            lane = self._lanes.get(session_id)
            if lane is not None:
                lane.wake.set()
        elif name == protocol.EV_MESSAGE and not data.get("from_me"):
            self._incoming(session_id, data)
        elif name == "session.deleted":
            self.store.delete_session(session_id)
            self._lanes.pop(session_id, None)
            self._unread.pop(session_id, None)
            self._policies.pop(session_id, None)

    def _incoming(self, session_id: str, data: dict[str, Any]) -> None:
        chat = str(data.get("chat_id") or data.get("from") or "")
        if not chat or chat.endswith("@g.us") or chat.endswith("@broadcast"):
            return
        aliases = limits.chat_aliases(chat, data.get("sender_phone"))
        self.store.note_chats(session_id, aliases, we_began=False)
        self.unread(session_id).update(aliases)
        lane = self._lanes.get(session_id)
        if lane is not None:
            lane.wake.set()  # a first contact may have just become a known one

    def _sweep_files(self, wanted: set[str]) -> int:
        """Delete queued files no open send refers to (a crash between keeping an upload and
        storing its send leaves one); how many. Boot only: it lists every session's folder."""
        gone = 0
        for path in self._config.layout.queued_files():
            if str(path) not in wanted:
                path.unlink(missing_ok=True)
                gone += 1
        return gone

    def prune(self) -> int:
        """Housekeeping: finished entries past keep_days, and old idempotency keys."""
        gone = self.store.prune(self._config.sending.keep_days, self._config.sending.idempotency_h)
        for entry in gone:
            if "path" in entry.payload:
                Path(entry.payload["path"]).unlink(missing_ok=True)
        return len(gone)
