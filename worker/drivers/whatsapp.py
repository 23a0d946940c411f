"""The WhatsApp Web driver: follows the page from load to login, QR codes, sync and logout,
and sends texts. Everything that touches WhatsApp Web's internals is here, in
worker.drivers.login and in wa_inject.js.

States reported to the supervisor: STARTING -> SCAN_QR_CODE (an EV_QR event per new QR) ->
WORKING (with the phone number). Fatal (exit 3, FAILED): the page never becomes ready, no QR
within ``qr_timeout_s``, more than ``qr_max_refreshes`` QR codes, CONFLICT (unless taking over),
a blocked account. Page events come through one exposed function, into one queue, consumed by
one loop (:meth:`WhatsAppDriver._follow`); nothing else changes the login's state.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import time
from collections.abc import Awaitable, Callable
from typing import Any

from worker import protocol
from worker.browser.cdp import Page
from worker.drivers.base import DriverFatal, Emit, OperationRefused
from worker.drivers.chatbot import BotInfo, Inbox, MessagePolicy
from worker.drivers.login import LOGIN_STATES, Login
from worker.drivers.mediapipe import refusal
from worker.drivers.pageops import PageOps, page_event, queue_fields, send_options
from worker.drivers.pairing import PairingCodes
from worker.drivers.scriptedpage import PageIncomplete, ScriptedPage
from worker.logs import get_logger
from worker.spec import WhatsAppOptions

__all__ = ["WhatsAppDriver"]

_SCRIPT = importlib.resources.files("worker.drivers").joinpath("wa_inject.js").read_text(encoding="utf-8")

log = get_logger()


class WhatsAppDriver:
    """See the module docstring; one per page (a new one after a renderer crash), ``run``
    called once."""

    def __init__(self, spec: protocol.BootSpec, options: WhatsAppOptions) -> None:
        self._spec = spec
        self._opts = options
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._wa: ScriptedPage | None = None
        self._emit_fn: Emit | None = None
        self._started = time.monotonic()
        self._login = Login(options, self._emit, self._page_call, self._open_chat)
        self._pairing = PairingCodes(options, self._emit, self._page_call, self._login)
        self._ops = PageOps(self._logged_in_page, options, spec["tmp_dir"], self._send, lambda: self._tg)

    # -- the loop ------------------------------------------------------------------------

    async def run(self, page: Page, emit: Emit) -> None:
        """See :class:`worker.drivers.base.Driver`."""
        self._emit_fn = emit
        self._inbox = Inbox(MessagePolicy(self._opts), emit,
                            lambda to, text: self._send("sendText", to, text, {}, {"body": text},
                                                        protocol.MessageOrigin.BOT))
        wa = self._wa = ScriptedPage(page, self._spec["url"], self._spec["chrome_user_agent"],
                                     self._opts.ready_timeout_s, _SCRIPT, self._events.put_nowait)
        await wa.prepare()
        try:
            await wa.load()
            async with asyncio.TaskGroup() as tg:  # owns the bot's replies
                self._tg = tg
                while True:
                    snapshot = await self._stage(wa.attach, "login")
                    await self._emit(protocol.EV_PAGE, {"wa_version": snapshot.get("version")})
                    await self._login.attached(snapshot)
                    await self._follow(wa)
        except BaseExceptionGroup as group:
            # Replies never raise, so this is the loop's own failure (DriverFatal, a crash):
            # the worker must see it as itself, not wrapped by the TaskGroup.
            raise group.exceptions[0] from None
        finally:
            wa.close()

    async def _follow(self, wa: ScriptedPage) -> None:
        """Handle page events until the page navigated away (the caller re-attaches)."""
        login = self._login
        while True:
            event = await self._next_event()
            kind = event.get("type")
            if kind == "navigated":
                if not wa.is_current_navigation(event):
                    continue
                if "post_logout=1" in str(event.get("url")):
                    await login.logged_out()
                return
            if not wa.is_current(event):
                continue  # from a document we already left, or not from our script at all
            if kind == "message":
                info = None if login.me is None else BotInfo(
                    self._spec["session_id"], login.me["user"], login.version, self._started)
                await self._inbox.receive(event, info, self._tg)
            elif kind == "ack":
                await self._emit(protocol.EV_MESSAGE_ACK, {"id": event.get("id"), "ack": event.get("ack")})
            elif (mapped := page_event(event)) is not None:
                await self._emit(*mapped)
            elif kind == "logout":
                await login.logged_out()
            elif kind == "error":
                log.warning("wa.page_error", where=event.get("where"), message=event.get("message"))
            elif kind == "state":
                await login.on_state(str(event.get("state")))
            elif kind == "synced":
                await login.on_synced(bool(event.get("synced")))
            elif kind == "qr":
                await login.on_qr(str(event.get("qr")))
            elif kind == "sync":
                await login.on_progress(event.get("percent"))

    async def _stage(self, opener: Callable[..., Awaitable[dict[str, Any]]], *args: Any) -> dict[str, Any]:
        """Open a stage of the page; a page that lacks what it needs at the deadline ends the
        session (FAILED, exit 3: a restart will not bring the module back) with names."""
        try:
            return await opener(*args)
        except PageIncomplete as exc:
            await self._emit(protocol.EV_INCOMPATIBLE, {"wa_version": exc.version, "missing": exc.missing})
            raise DriverFatal(f"{exc} (waited {self._opts.ready_timeout_s:g}s, ready_timeout_s); "
                              "zapvisor needs an update for this WhatsApp Web build") from None

    async def _open_chat(self) -> None:
        """Logged in: wait for the modules chats need (they register late), then listen to them."""
        assert self._wa is not None
        await self._stage(self._wa.open_stage, "chat", time.monotonic() + self._opts.ready_timeout_s)

    async def _next_event(self) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self._events.get(), self._login.time_left())
        except TimeoutError:
            raise self._login.overdue() from None

    async def _emit(self, event: str, data: dict[str, Any]) -> None:
        assert self._emit_fn is not None
        await self._emit_fn(event, data)

    async def _page_call(self, name: str, *args: Any) -> Any:
        assert self._wa is not None
        return await self._wa.call(name, *args)

    # -- operations ----------------------------------------------------------------------

    async def request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """See :class:`worker.drivers.base.Driver`: send_text, pairing_code, logout and the
        messaging operations (worker.drivers.pageops)."""
        if op == protocol.OP_SEND_TEXT:
            text = str(args.get("text"))
            return await self._send("sendText", str(args.get("to")), text, send_options(args),
                                    {"body": text, **queue_fields(args)})
        if op in protocol.MESSAGING_OPS:
            return await self._ops.request(op, args)
        if op == protocol.OP_PAIRING_CODE:
            if self._wa is None or self._login.wa_state not in LOGIN_STATES:
                raise OperationRefused(protocol.ErrorType.CONFLICT,
                                       f"no login on offer (WhatsApp Web is {self._login.wa_state})")
            code = await self._pairing.start(str(args.get("phone")), self._tg)
            return {"code": code}
        if op == protocol.OP_LOGOUT:
            return await self._logout()
        raise OperationRefused(protocol.WorkerErrorType.UNKNOWN_OPERATION, f"unknown operation {op!r}")

    def _logged_in_page(self) -> ScriptedPage:
        if self._wa is None or self._login.me is None:
            raise OperationRefused(protocol.ErrorType.CONFLICT,
                                   f"not logged in (session is {self._login.reported})")
        return self._wa

    async def _send(self, call: str, to: str, payload: Any, options: dict[str, Any],
                    report: dict[str, Any], origin: protocol.MessageOrigin = protocol.MessageOrigin.API,
                    ) -> dict[str, Any]:
        """Send ``payload`` (a text, or a staged media spec) to chat ``to`` with the page function
        ``call``. Every send goes through here, the API's and the bot's, and is reported as
        EV_MESSAGE_SENT (with ``report``'s fields) before its result goes anywhere else (the page
        does not echo our own sends as ``message`` events). A send under an ``msg_id`` the page
        already holds was sent before: answered with ``already_sent``, not sent or reported again."""
        wa = self._logged_in_page()
        result: dict[str, Any] = await wa.call(call, to, payload, options, timeout_s=self._opts.send_timeout_s)
        refusal(result)  # WhatsApp's own answer about the recipient or the message
        if result.get("already_sent"):
            log.info("wa.send_repeated", id=result.get("id"), queue_id=report.get("queue_id"))
            return result
        await self._emit(protocol.EV_MESSAGE_SENT, {
            "id": result.get("id"), "to": result.get("to"), "ack": result.get("ack"),
            "timestamp": result.get("timestamp"), "type": "chat", **report, "origin": origin,
            "reply_to": options.get("reply_to"), "mentions": options.get("mentions") or []})
        return result

    async def _logout(self) -> dict[str, Any]:
        wa = self._logged_in_page()
        # Answer only once the logout is seen (and EV_LOGOUT sent before this reply): the
        # supervisor may stop this worker on that event, and must have its answer by then.
        self._login.logout_origin = protocol.LogoutOrigin.API
        self._login.logged_out_now.clear()
        await wa.call("logout")
        await asyncio.wait_for(self._login.logged_out_now.wait(), self._opts.send_timeout_s)
        return {"logged_out": True}
