"""The WhatsApp login as the page reports it: the state machine of one WhatsApp driver.

It hears the page's states, QR codes and sync, decides what the supervisor is told
(STARTING -> SCAN_QR_CODE -> WORKING, EV_QR, EV_LOGOUT) and what must happen by when (a
deadline: :meth:`Login.overdue` says how that ends). It reaches the page and the supervisor
only through the two callables it is given; the driver (worker.drivers.whatsapp) owns both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from worker import protocol
from worker.drivers.base import DriverFatal, Emit
from worker.logs import get_logger
from worker.spec import WhatsAppOptions

__all__ = ["LOGIN_STATES", "Login", "QrCodes"]

#: Page states that offer a login (a QR code, or a pairing code).
LOGIN_STATES = frozenset({"UNPAIRED", "UNPAIRED_IDLE"})
_BLOCKED = {
    "TOS_BLOCK": "WhatsApp blocked this account (terms of service)",
    "SMB_TOS_BLOCK": "WhatsApp blocked this business account (terms of service)",
    "PROXYBLOCK": "WhatsApp refuses connections from this network (proxy block)",
    "DEPRECATED_VERSION": "WhatsApp Web says this version is deprecated",
}

#: ``await call(name, *args)``: ``window.__zapvisor[name](*args)`` in the page.
PageCall = Callable[..., Awaitable[Any]]

log = get_logger()


class QrCodes:
    """The QR codes of one login: the one the page shows, the last one the supervisor was shown,
    and how many were shown (``[whatsapp] qr_max_refreshes`` caps them: nobody is scanning)."""

    def __init__(self, max_shown: int) -> None:
        self.current: str | None = None  # the page's current QR string
        self.shown: str | None = None  # the last one sent to the supervisor
        self.count = 0  # shown since the last login
        self._max_shown = max_shown

    def take_new(self) -> str | None:
        """The page's QR if the supervisor has not been shown it yet (it now counts as shown);
        None if there is none, or no new one. DriverFatal once the cap is reached."""
        if self.current is None or self.current == self.shown:
            return None
        self.check_cap()
        self.count += 1
        self.shown = self.current
        return self.current

    def check_cap(self) -> None:
        """DriverFatal if no other QR code may be shown."""
        if self.count >= self._max_shown:
            raise DriverFatal(f"too many QR refreshes: {self.count} QR codes shown and none scanned "
                              f"(qr_max_refreshes = {self._max_shown})")

    def logged_in(self) -> None:
        """Start over: the next login counts its QR codes from one."""
        self.current = self.shown = None
        self.count = 0


class Login:
    """One page's login; see the module docstring."""

    def __init__(self, options: WhatsAppOptions, emit: Emit, call: PageCall,
                 before_working: Callable[[], Awaitable[None]]) -> None:
        """``before_working`` runs once the account synced, before WORKING is reported (the
        driver waits there for the modules chats need)."""
        self._opts = options
        self._emit = emit
        self._call = call
        self._before_working = before_working
        self.pairing = False  # a pairing code is on offer: the QR code is not renewed meanwhile
        self.reported = protocol.WorkerState.STARTING  # the last state sent to the supervisor
        self.wa_state = "UNLAUNCHED"  # the page's own state name
        self.synced = False
        self.version = ""  # WhatsApp Web's build
        self.me: dict[str, Any] | None = None  # the logged-in account, while WORKING
        self.logout_origin = protocol.LogoutOrigin.PHONE  # who ends the current login
        self.logged_out_now = asyncio.Event()  # set at each logout (the logout op waits for it)
        self._qrs = QrCodes(options.qr_max_refreshes)
        self._was_working = False
        self._deadline: float | None = None
        self._deadline_reason = ""

    # -- deadlines -----------------------------------------------------------------------

    def time_left(self) -> float | None:
        """Seconds until the current deadline (None: none)."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def overdue(self) -> Exception:
        """What to raise when the deadline passed with nothing happening."""
        if self._was_working:  # a session that worked once may recover in a new Chrome
            return RuntimeError(self._deadline_reason)
        return DriverFatal(self._deadline_reason)

    def _expect(self, seconds: float | None, reason: str = "") -> None:
        """Something must happen within ``seconds`` (None: no deadline), else fail with ``reason``."""
        self._deadline = None if seconds is None else time.monotonic() + seconds
        self._deadline_reason = reason

    # -- what the page says --------------------------------------------------------------

    async def attached(self, snapshot: dict[str, Any]) -> None:
        """The page's script was (re)installed: its state now."""
        self.version = snapshot["version"]
        self.synced = bool(snapshot["synced"])
        self._qrs.current = snapshot.get("qr")
        await self.on_state(str(snapshot["state"]))

    async def on_state(self, state: str) -> None:
        """The page's state changed (or was read anew)."""
        previous, self.wa_state = self.wa_state, state
        log.info("wa.state", state=state, previous=previous, synced=self.synced)
        if state in _BLOCKED:
            raise DriverFatal(f"{state}: {_BLOCKED[state]}")
        if state == "CONFLICT":
            await self._on_conflict()
        elif state in LOGIN_STATES:
            if self.me is not None:
                self.logout_origin = protocol.LogoutOrigin.UNPAIRED
                await self.logged_out()
            if self.pairing:
                pass  # a pairing code is on offer: the QR stays as it is (see pairing_started)
            elif state == "UNPAIRED_IDLE":
                await self._refresh_qr()
            elif self._qrs.current:
                await self._show_qr()
            else:
                self._expect(self._opts.qr_timeout_s, self._no_qr_reason(state))
        elif state == "CONNECTED" and self.synced:
            await self._working()
        elif state != previous or self._deadline is None:
            await self._connecting(state)

    async def on_synced(self, synced: bool) -> None:
        """The first sync after a login finished (or restarted)."""
        self.synced = synced
        if synced and self.wa_state == "CONNECTED":
            await self._working()

    async def on_progress(self, percent: object) -> None:
        """The first sync progressed: tell the supervisor, and count ``ready_timeout_s`` from
        now (a large account's first sync takes minutes, but keeps moving)."""
        if not isinstance(percent, (int, float)) or isinstance(percent, bool):
            return
        await self._emit(protocol.EV_SYNC, {"percent": percent})
        if self.me is None and self._deadline is not None and self.wa_state not in LOGIN_STATES:
            self._expect(self._opts.ready_timeout_s, f"the first sync stopped at {percent:g}% for "
                         f"{self._opts.ready_timeout_s:g}s (ready_timeout_s)")

    def pairing_started(self) -> None:
        """A pairing code is on offer: the phone's user types it in; the page shows no new QR
        codes meanwhile (WhatsApp stops rotating them), so none is waited for or asked for."""
        self.pairing = True
        self._expect(None)

    async def on_qr(self, qr: str) -> None:
        """The page shows a new QR code."""
        self._qrs.current = qr
        if self.wa_state in LOGIN_STATES and not self.pairing:
            await self._show_qr()

    async def logged_out(self) -> None:
        """The account logged out (by ``logout_origin``); a second notice of it is ignored."""
        if self.me is None:
            return  # already handled: the Cmd event and the post_logout=1 navigation both come
        phone, self.me = self.me["user"], None
        log.info("wa.logged_out", origin=self.logout_origin)
        await self._emit(protocol.EV_LOGOUT, {"origin": self.logout_origin, "phone_number": phone})
        self.logged_out_now.set()
        await self._report(protocol.WorkerState.STARTING, f"logged out ({self.logout_origin})")

    # -- transitions ---------------------------------------------------------------------

    async def _connecting(self, state: str) -> None:
        """OPENING, PAIRING, TIMEOUT, CONNECTED before its sync, ...: on the way somewhere."""
        if self.reported == protocol.WorkerState.WORKING:
            await self._report(protocol.WorkerState.STARTING, f"reconnecting (WhatsApp Web is {state})")
        elif self.reported == protocol.WorkerState.SCAN_QR_CODE:
            await self._report(protocol.WorkerState.STARTING, f"linking the device (WhatsApp Web is {state})")
        if self.me is None and self._qrs.shown is None and state in ("OPENING", "UNLAUNCHED"):
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
        await self._call("takeover")
        timeout = self._opts.ready_timeout_s
        self._expect(timeout, f"no reconnection within {timeout:g}s after taking over from CONFLICT")

    async def _show_qr(self) -> None:
        qr = self._qrs.take_new()
        if qr is None:
            return
        await self._emit(protocol.EV_QR, {"qr": qr, "attempt": self._qrs.count})
        await self._report(protocol.WorkerState.SCAN_QR_CODE, f"QR code {self._qrs.count} shown")
        # The page replaces its QR every 20-60 s; one that stops doing so is stuck.
        self._expect(self._opts.qr_timeout_s,
                     f"no new QR code within {self._opts.qr_timeout_s:g}s (qr_timeout_s)")

    async def _refresh_qr(self) -> None:
        """The QR expired (UNPAIRED_IDLE): ask for a new one, as whatsapp-web.js does."""
        self._qrs.current = None
        self._qrs.check_cap()
        await self._call("refreshQR")
        self._expect(self._opts.qr_timeout_s,
                     f"no new QR code within {self._opts.qr_timeout_s:g}s after a refresh")

    async def _working(self) -> None:
        await self._before_working()
        me = await self._call("me")
        if not me:
            raise RuntimeError("WhatsApp Web synced but names no account")
        self.me, self._was_working = me, True
        self._qrs.logged_in()
        self.pairing = False
        self.logout_origin = protocol.LogoutOrigin.PHONE
        self._expect(None)
        await self._report(protocol.WorkerState.WORKING, "logged in", phone_number=me["user"],
                           pushname=me.get("pushname"), wa_version=self.version)

    async def _report(self, state: protocol.WorkerState, reason: str, **extra: Any) -> None:
        if state == self.reported and not extra:
            return
        self.reported = state
        await self._emit(protocol.EV_STATE, {"state": state, "reason": reason, **extra})
