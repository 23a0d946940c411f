"""Pairing codes: the 8-character code a person types on the phone instead of scanning a QR.

WhatsApp's codes expire (whatsapp-web.js asks for a new one every 180 s, wa-js gives a code a
3.25-minute life: research/whatsapp-anchors.md §10.7), so while the session stays unpaired a new
code is requested every ``pairing_code_interval_s``, each one an EV_PAIRING_CODE event. As with
QR codes, ``qr_max_refreshes`` codes without a login end the session: nobody is typing.
"""

from __future__ import annotations

import asyncio

from worker import protocol
from worker.drivers.base import DriverFatal, Emit
from worker.drivers.login import LOGIN_STATES, Login, PageCall
from worker.logs import get_logger
from worker.spec import WhatsAppOptions

__all__ = ["PairingCodes"]

log = get_logger()


class PairingCodes:
    """The codes of one page; the renewal runs as one task of the driver's TaskGroup."""

    def __init__(self, options: WhatsAppOptions, emit: Emit, call: PageCall, login: Login) -> None:
        self._opts = options
        self._emit = emit
        self._call = call
        self._login = login
        self._renewal: asyncio.Task[None] | None = None
        self.count = 0

    async def start(self, phone: str, owner: asyncio.TaskGroup) -> str:
        """A first code for ``phone`` (a new request replaces an earlier one and its renewal)."""
        if self._renewal is not None:
            self._renewal.cancel()
        self.count = 0
        code = await self._new_code(phone, notify=True)
        self._login.pairing_started()
        self._renewal = owner.create_task(self._renew(phone), name="pairing-code-renewal")
        return code

    async def _new_code(self, phone: str, notify: bool) -> str:
        if self.count >= self._opts.qr_max_refreshes:
            raise DriverFatal(f"too many pairing codes: {self.count} codes given and none typed in "
                              f"(qr_max_refreshes = {self._opts.qr_max_refreshes})")
        code = str(await self._call("pairingCode", phone, notify))
        self.count += 1
        await self._emit(protocol.EV_PAIRING_CODE, {
            "code": code, "phone": phone, "expires_in_s": self._opts.pairing_code_interval_s})
        return code

    async def _renew(self, phone: str) -> None:
        """Until the login is done (or abandoned), replace the code before it expires."""
        while True:
            await asyncio.sleep(self._opts.pairing_code_interval_s)
            login = self._login
            if login.me is not None or not login.pairing or login.wa_state not in LOGIN_STATES:
                return
            log.info("wa.pairing_code_renewed", attempt=self.count + 1)
            await self._new_code(phone, notify=False)
