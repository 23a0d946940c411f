"""The WhatsApp Web driver: follows the page from load to login, QR codes, sync and logout,
and sends texts. Everything that touches WhatsApp Web's internals is here and in wa_inject.js.

States reported to the supervisor: STARTING -> SCAN_QR_CODE (an EV_QR event per new QR) ->
WORKING (with the phone number). Fatal (exit 3, FAILED): the page never becomes ready, no QR
within ``qr_timeout_s``, more than ``qr_max_refreshes`` QR codes, CONFLICT (unless taking over),
a blocked account. Page events come through one exposed function, into one queue, consumed by
one loop (:meth:`WhatsAppDriver._follow`); nothing else changes the driver's state.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import time
from typing import Any

from worker import protocol
from worker.browser.cdp import Page
from worker.drivers.base import DriverFatal, Emit, OperationRefused
from worker.drivers.chatbot import BotInfo, Inbox, MessagePolicy
from worker.drivers.scriptedpage import ScriptedPage
from worker.logs import get_logger
from worker.spec import WhatsAppOptions

__all__ = ["WhatsAppDriver"]

_LOGIN = frozenset({"UNPAIRED", "UNPAIRED_IDLE"})
_BLOCKED = {
    "TOS_BLOCK": "WhatsApp blocked this account (terms of service)",
    "SMB_TOS_BLOCK": "WhatsApp blocked this business account (terms of service)",
    "PROXYBLOCK": "WhatsApp refuses connections from this network (proxy block)",
    "DEPRECATED_VERSION": "WhatsApp Web says this version is deprecated",
}
_SCRIPT = importlib.resources.files("worker.drivers").joinpath("wa_inject.js").read_text(encoding="utf-8")

log = get_logger()


class WhatsAppDriver:
    """See the module docstring; one per worker, ``run`` called once."""

    def __init__(self, spec: protocol.BootSpec, options: WhatsAppOptions) -> None:
        self._spec = spec
        self._opts = options
        self._policy = MessagePolicy(options)
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._wa: ScriptedPage | None = None
        self._emit_fn: Emit | None = None
        self._started = time.monotonic()
        self._reported = protocol.WorkerState.STARTING  # last state sent to the supervisor
        self._wa_state = "UNLAUNCHED"
        self._synced = False
        self._version = ""
        self._qr: str | None = None  # the page's current QR string
        self._qr_shown: str | None = None  # the last one sent to the supervisor
        self._qr_count = 0
        self._me: dict[str, Any] | None = None  # the logged-in account, while WORKING
        self._was_working = False
        self._logout_origin = "phone"
        self._logged_out_now = asyncio.Event()  # set at each logout (the logout op waits for it)
        self._deadline: float | None = None
        self._deadline_reason = ""

    # -- the loop ------------------------------------------------------------------------

    async def run(self, page: Page, emit: Emit) -> None:
        """See :class:`worker.drivers.base.Driver`."""
        self._emit_fn = emit
        self._inbox = Inbox(self._policy, emit, lambda to, text: self.request(
            protocol.OP_SEND_TEXT, {"to": to, "text": text}))
        wa = self._wa = ScriptedPage(page, self._spec["url"], self._spec["chrome_user_agent"],
                                     self._opts.ready_timeout_s, _SCRIPT, self._events.put_nowait)
        await wa.prepare()
        try:
            await wa.load()
            async with asyncio.TaskGroup() as tg:  # owns the bot's replies
                self._tg = tg
                while True:
                    snapshot = await wa.attach()
                    self._version = snapshot["version"]
                    self._synced = bool(snapshot["synced"])
                    self._qr = snapshot.get("qr")
                    await self._on_state(str(snapshot["state"]))
                    await self._follow()
        except BaseExceptionGroup as group:
            # Replies never raise, so this is the loop's own failure (DriverFatal, a crash):
            # the worker must see it as itself, not wrapped by the TaskGroup.
            raise group.exceptions[0] from None
        finally:
            wa.close()

    async def _follow(self) -> None:
        """Handle page events until the page navigated away (the caller re-attaches)."""
        assert self._wa is not None
        while True:
            event = await self._next_event()
            kind = event.get("type")
            if kind == "navigated":
                if not self._wa.is_current_navigation(event):
                    continue
                if "post_logout=1" in str(event.get("url")):
                    await self._logged_out()
                return
            if kind == "message":
                info = None if self._me is None else BotInfo(
                    self._spec["session_id"], self._me["user"], self._version, self._started)
                await self._inbox.receive(event, info, self._tg)
            elif kind == "ack":
                await self._emit(protocol.EV_MESSAGE_ACK, {"id": event.get("id"), "ack": event.get("ack")})
            elif kind == "logout":
                await self._logged_out()
            elif kind == "error":
                log.warning("wa.page_error", where=event.get("where"), message=event.get("message"))
            elif not self._wa.is_current(event):
                continue  # state of a document we already left: the snapshot superseded it
            elif kind == "state":
                await self._on_state(str(event.get("state")))
            elif kind == "synced":
                self._synced = bool(event.get("synced"))
                if self._synced and self._wa_state == "CONNECTED":
                    await self._working()
            elif kind == "qr":
                self._qr = str(event.get("qr"))
                if self._wa_state in _LOGIN:
                    await self._show_qr()

    async def _next_event(self) -> dict[str, Any]:
        timeout = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
        try:
            return await asyncio.wait_for(self._events.get(), timeout)
        except TimeoutError:
            if self._was_working:  # a session that worked once may recover in a new Chrome
                raise RuntimeError(self._deadline_reason) from None
            raise DriverFatal(self._deadline_reason) from None

    def _expect(self, seconds: float | None, reason: str = "") -> None:
        """Something must happen within ``seconds`` (None: no deadline), else fail with ``reason``."""
        self._deadline = None if seconds is None else time.monotonic() + seconds
        self._deadline_reason = reason

    # -- following the page --------------------------------------------------------------

    async def _on_state(self, state: str) -> None:
        previous, self._wa_state = self._wa_state, state
        log.info("wa.state", state=state, previous=previous, synced=self._synced)
        if state in _BLOCKED:
            raise DriverFatal(f"{state}: {_BLOCKED[state]}")
        if state == "CONFLICT":
            await self._on_conflict()
        elif state in _LOGIN:
            if self._me is not None:
                self._logout_origin = "unpaired"
                await self._logged_out()
            if state == "UNPAIRED_IDLE":
                await self._refresh_qr()
            elif self._qr:
                await self._show_qr()
            else:
                self._expect(self._opts.qr_timeout_s, self._no_qr_reason(state))
        elif state == "CONNECTED" and self._synced:
            await self._working()
        elif state != previous or self._deadline is None:
            await self._connecting(state)

    async def _connecting(self, state: str) -> None:
        """OPENING, PAIRING, TIMEOUT, CONNECTED before its sync, ...: on the way somewhere."""
        if self._reported == protocol.WorkerState.WORKING:
            await self._report(protocol.WorkerState.STARTING, f"reconnecting (WhatsApp Web is {state})")
        elif self._reported == protocol.WorkerState.SCAN_QR_CODE:
            await self._report(protocol.WorkerState.STARTING, f"linking the device (WhatsApp Web is {state})")
        if self._me is None and self._qr_shown is None and state in ("OPENING", "UNLAUNCHED"):
            # Not logged in, no QR yet: the page is deciding whether a login is needed.
            self._expect(self._opts.qr_timeout_s, self._no_qr_reason(state))
        else:
            timeout = self._opts.ready_timeout_s
            self._expect(timeout, f"WhatsApp Web stayed {state} for {timeout:g}s without becoming ready")

    def _no_qr_reason(self, state: str) -> str:
        return (f"no QR code within {self._opts.qr_timeout_s:g}s (qr_timeout_s): "
                f"WhatsApp Web stayed {state}")

    async def _on_conflict(self) -> None:
        if not self._opts.takeover_on_conflict:
            raise DriverFatal("CONFLICT: this account was opened in another WhatsApp Web; set "
                              "[whatsapp] takeover_on_conflict to take it back automatically")
        await self._report(protocol.WorkerState.STARTING, "CONFLICT: taking the session back")
        assert self._wa is not None
        await self._wa.call("takeover")
        timeout = self._opts.ready_timeout_s
        self._expect(timeout, f"no reconnection within {timeout:g}s after taking over from CONFLICT")

    async def _show_qr(self) -> None:
        if self._qr is None or self._qr == self._qr_shown:
            return
        if self._qr_count >= self._opts.qr_max_refreshes:
            raise DriverFatal(self._too_many_qr())
        self._qr_count += 1
        self._qr_shown = self._qr
        await self._emit(protocol.EV_QR, {"qr": self._qr, "attempt": self._qr_count})
        await self._report(protocol.WorkerState.SCAN_QR_CODE, f"QR code {self._qr_count} shown")
        # The page replaces its QR every 20-60 s; one that stops doing so is stuck.
        self._expect(self._opts.qr_timeout_s,
                     f"no new QR code within {self._opts.qr_timeout_s:g}s (qr_timeout_s)")

    def _too_many_qr(self) -> str:
        return (f"too many QR refreshes: {self._qr_count} QR codes shown and none scanned "
                f"(qr_max_refreshes = {self._opts.qr_max_refreshes})")

    async def _refresh_qr(self) -> None:
        """The QR expired (UNPAIRED_IDLE): ask for a new one, as whatsapp-web.js does."""
        self._qr = None
        if self._qr_count >= self._opts.qr_max_refreshes:
            raise DriverFatal(self._too_many_qr())
        assert self._wa is not None
        await self._wa.call("refreshQR")
        self._expect(self._opts.qr_timeout_s,
                     f"no new QR code within {self._opts.qr_timeout_s:g}s after a refresh")

    async def _working(self) -> None:
        assert self._wa is not None
        me = await self._wa.call("me")
        if not me:
            raise RuntimeError("WhatsApp Web synced but names no account")
        self._me, self._was_working = me, True
        self._qr = self._qr_shown = None
        self._qr_count = 0
        self._logout_origin = "phone"
        self._expect(None)
        await self._report(protocol.WorkerState.WORKING, "logged in", phone_number=me["user"],
                           pushname=me.get("pushname"), wa_version=self._version)

    async def _logged_out(self) -> None:
        if self._me is None:
            return  # already handled: the Cmd event and the post_logout=1 navigation both come
        phone, self._me = self._me["user"], None
        log.info("wa.logged_out", origin=self._logout_origin)
        await self._emit(protocol.EV_LOGOUT, {"origin": self._logout_origin, "phone_number": phone})
        self._logged_out_now.set()
        await self._report(protocol.WorkerState.STARTING, f"logged out ({self._logout_origin})")

    # -- reporting -----------------------------------------------------------------------

    async def _emit(self, event: str, data: dict[str, Any]) -> None:
        assert self._emit_fn is not None
        await self._emit_fn(event, data)

    async def _report(self, state: protocol.WorkerState, reason: str, **extra: Any) -> None:
        if state == self._reported and not extra:
            return
        self._reported = state
        await self._emit(protocol.EV_STATE, {"state": state, "reason": reason, **extra})

    # -- operations ----------------------------------------------------------------------

    async def request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """See :class:`worker.drivers.base.Driver`: send_text, pairing_code, logout."""
        wa = self._wa
        if op == protocol.OP_PAIRING_CODE:
            if wa is None or self._wa_state not in _LOGIN:
                raise OperationRefused(protocol.ErrorType.CONFLICT, f"no login on offer (WhatsApp Web is {self._wa_state})")
            code = await wa.call("pairingCode", str(args.get("phone")), True)
            return {"code": str(code)}
        if op not in (protocol.OP_SEND_TEXT, protocol.OP_LOGOUT):
            raise OperationRefused(protocol.WorkerErrorType.UNKNOWN_OPERATION, f"unknown operation {op!r}")
        if wa is None or self._me is None:
            raise OperationRefused(protocol.ErrorType.CONFLICT, f"not logged in (session is {self._reported})")
        if op == protocol.OP_LOGOUT:
            # Answer only once the logout is seen (and EV_LOGOUT sent before this reply): the
            # supervisor may stop this worker on that event, and must have its answer by then.
            self._logout_origin = "api"
            self._logged_out_now.clear()
            await wa.call("logout")
            await asyncio.wait_for(self._logged_out_now.wait(), self._opts.send_timeout_s)
            return {"logged_out": True}
        result: dict[str, Any] = await wa.call("sendText", str(args.get("to")), str(args.get("text")),
                                                timeout_s=self._opts.send_timeout_s)
        return result
