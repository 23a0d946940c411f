"""One session's sender: takes its queued entries one at a time, oldest first, and sends each
once, paced like a person.

Exactly once across crashes: an entry gets its WhatsApp message id from the page
(``OP_NEW_MESSAGE_ID``, WhatsApp's own ``MsgKey.newId``) and that id is committed, status
``sending``, before the page is asked to send it under that id. An entry found ``sending`` (the
worker or the daemon died mid-send) is first looked up in its chat (``OP_FIND_SENT``): found, it
is marked sent; not found, it is sent again under the same id. So it goes once, never twice,
and is never lost.

Order per chat: an entry never overtakes an older one to the same chat. A limit that holds
one chat (per recipient, first contacts) lets other chats' entries go; a limit of the whole
session holds them all.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from supervisor.errors import Conflict, Unavailable, ZapvisorError
from supervisor.logs import get_logger
from supervisor.sending import limits, pacing
from supervisor.sending.limits import Hold
from supervisor.sending.store import OPEN, Entry, SendStore
from supervisor.sessions.messaging import call_worker
from supervisor.sessions.session import Session
from supervisor.settings import SendingConfig
from supervisor.states import State
from worker import protocol

__all__ = ["Lane", "LaneHost", "WorkerSend"]

_BATCH = 50  # open entries looked at per pass (further ones wait behind held chats)
_RETRY_MAX_S = 30.0
_REQUEST_MARGIN_S = 5.0


#: A send as the worker gets it: its operation, arguments (a protocol TypedDict), timeout, and
#: what to do once it ended.
WorkerSend = tuple[str, Mapping[str, object], float, Callable[[], None]]


class LaneHost(Protocol):
    """What a lane needs of the queues that own it."""

    store: SendStore

    def lookup(self, session_id: str) -> Session | None: ...
    def policy(self, session: Session) -> SendingConfig: ...
    def unread(self, session_id: str) -> set[str]: ...
    def finished(self, entry: Entry, event: str, payload: dict[str, Any]) -> None: ...
    def send_args(self, session: Session, entry: Entry) -> WorkerSend: ...


class Lane:
    """The sender of one session; ``run`` returns once its queue is empty."""

    def __init__(self, session_id: str, host: LaneHost) -> None:
        self.session_id = session_id
        self.wake = asyncio.Event()
        self._host = host
        self._next_at: float | None = None  # monotonic: no new send before (the random gap)
        self._rng = random.Random()
        self._log = get_logger().bind(session_id=session_id)

    async def _sleep(self, seconds: float | None) -> None:
        """Wait ``seconds`` (None: until woken) or until something changes (a new entry, a
        cancel, the session's state, an incoming message)."""
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except TimeoutError:
            pass

    async def run(self) -> None:
        """Send until nothing is open; wait while the session is not WORKING or a limit holds."""
        store = self._host.store
        while True:
            self.wake.clear()
            entries = store.select(self.session_id, OPEN, _BATCH)
            session = self._host.lookup(self.session_id)
            if not entries or session is None:
                return
            if session.state != State.WORKING:
                await self._sleep(None)
                continue
            policy = self._host.policy(session)
            now = time.time()
            entry, hold = self._pick(entries, policy, session, now)
            if entry is None:
                await self._sleep(max(0.0, hold.until - now) if hold else None)
                continue
            if entry.status == "queued" and self._next_at is not None:
                remaining = self._next_at - time.monotonic()
                if remaining > 0:
                    await self._sleep(remaining)
                    continue
            delay = await self._attempt(session, entry, policy)
            if delay:
                await self._sleep(delay)

    def _pick(self, entries: list[Entry], policy: SendingConfig, session: Session,
              now: float) -> tuple[Entry | None, Hold | None]:
        """The next entry that may go now, or None and the hold that frees up first."""
        store = self._host.store
        blocked: set[str] = set()
        first: Hold | None = None
        asked = False
        whole: Hold | None = None
        for entry in entries:
            if entry.chat in blocked:
                continue
            if entry.status == "sending":
                return entry, None  # in flight when we stopped: settle it before anything else
            if not asked:
                asked = True
                whole = limits.check_session(policy, store, self.session_id, now,
                                             session.record.first_login_at)
            hold = whole or limits.check_chat(policy, store, self.session_id, entry.chat, now)
            if hold is None:
                return entry, None
            if entry.held_by != hold.limit:
                store.update(entry, held_by=hold.limit)
            if whole:
                return None, hold
            blocked.add(entry.chat)
            first = hold if first is None or hold.until < first.until else first
        return None, first

    async def _attempt(self, session: Session, entry: Entry, policy: SendingConfig) -> float:
        """One try at ``entry``; the pause before the next try when it must be retried."""
        store = self._host.store
        if entry.attempts >= policy.max_attempts:
            self._fail(entry, "Unavailable", f"gave up after {entry.attempts} attempts: {entry.error}")
            return 0.0
        timeout = session.ctx.config.whatsapp.send_timeout_s + _REQUEST_MARGIN_S
        tried = entry.attempts + 1  # stored with the try's first write, or with its failure
        try:
            if entry.status == "sending":
                entry = store.update(entry, attempts=tried)
                found = await call_worker(session, State.WORKING, protocol.OP_FIND_SENT,
                                          protocol.FindSentArgs(to=entry.chat, msg_id=str(entry.msg_id)), timeout)
                if found.get("found"):
                    self._sent(entry, found, True, policy)
                    return 0.0
                self._log.info("send.resending", queue_id=entry.id, msg_id=entry.msg_id)
            else:
                made = await call_worker(session, State.WORKING, protocol.OP_NEW_MESSAGE_ID, protocol.NoArgs(), timeout)
                entry = store.update(entry, status="sending", msg_id=str(made["msg_id"]), held_by=None,
                                     attempts=tried)
            await self._humanize(session, entry, policy, timeout)
            op, args, op_timeout, done = self._host.send_args(session, entry)
            try:
                result = await call_worker(session, State.WORKING, op, args, op_timeout)
            finally:
                done()
            # already_sent: the page held a message under this id (sent before a lost answer).
            self._sent(entry, result, bool(result.get("already_sent")), policy)
            return 0.0
        except (Unavailable, Conflict) as exc:
            if isinstance(exc, Conflict) and session.state == State.WORKING:
                self._fail(entry, type(exc).__name__, str(exc))  # WhatsApp's own no
                return 0.0
            # The worker died, timed out or left WORKING: settle it on the next try.
            store.update(entry, error_type=type(exc).__name__, error=str(exc), attempts=tried)
            self._log.info("send.retry_later", queue_id=entry.id, error=str(exc))
            return min(_RETRY_MAX_S, 2.0 ** tried)
        except ZapvisorError as exc:
            self._fail(entry, exc.type, str(exc))
            return 0.0

    async def _humanize(self, session: Session, entry: Entry, policy: SendingConfig,
                        timeout: float) -> None:
        """Read the chat if it wrote to us, then type or record for a while. A failure here
        costs the pacing, never the send."""
        unread = self._host.unread(self.session_id)
        try:
            if policy.mark_read and entry.chat in unread:
                await call_worker(session, State.WORKING, protocol.OP_MARK_READ,
                                  protocol.ChatArgs(chat=entry.chat), timeout)
                unread.discard(entry.chat)
            text = str(entry.payload.get("text") or entry.payload.get("caption") or "")
            shown = pacing.presence_for(policy, entry.kind, len(text), self._rng)
            if shown is not None:
                state, seconds = shown
                await call_worker(session, State.WORKING, protocol.OP_PRESENCE,
                                  protocol.PresenceArgs(chat=entry.chat, state=state,
                                                        duration_s=min(seconds, 300.0)), timeout)
                await asyncio.sleep(seconds)  # pacing itself: the person is typing
        except (Unavailable, Conflict):
            raise
        except ZapvisorError as exc:
            self._log.info("send.pacing_skipped", queue_id=entry.id, error=str(exc))

    def _sent(self, entry: Entry, result: dict[str, Any], reconciled: bool,
              policy: SendingConfig) -> None:
        store = self._host.store
        now = time.time()
        to = str(result.get("to") or entry.chat)
        aliases = tuple({entry.chat, to})
        if not entry.chat.endswith("@g.us") and not store.known(self.session_id, aliases):
            store.note_chats(self.session_id, aliases, we_began=True)  # a first contact
        entry = store.update(entry, status="sent", wa_id=result.get("id"), sent_at=now, held_by=None,
                             error_type=None, error=None,
                             result={"to": to, "ack": result.get("ack"), "timestamp": result.get("timestamp")})
        self._next_at = time.monotonic() + pacing.gap_s(policy, self._rng)
        self._log.info("send.sent", queue_id=entry.id, id=entry.wa_id, reconciled=reconciled,
                       attempts=entry.attempts)
        payload = {"queue_id": entry.id, "id": entry.wa_id, "to": to, "ack": result.get("ack"),
                   "timestamp": result.get("timestamp"), "kind": entry.kind, "reconciled": True,
                   "origin": protocol.MessageOrigin.API}
        self._host.finished(entry, "message.sent" if reconciled else "", payload)

    def _fail(self, entry: Entry, error_type: str, message: str) -> None:
        entry = self._host.store.update(entry, status="failed", error_type=error_type, error=message,
                                        held_by=None)
        self._log.info("send.failed", queue_id=entry.id, error_type=error_type, error=message)
        self._host.finished(entry, "message.failed", {
            "queue_id": entry.id, "to": entry.chat, "kind": entry.kind, "msg_id": entry.msg_id,
            "error": {"type": error_type, "message": message}})
