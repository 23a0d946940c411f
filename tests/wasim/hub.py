"""Server-side state of the simulator: configuration, known pages, refs and commands.

A *page* is one fake WhatsApp Web tab, identified by the client id it keeps in its
localStorage. The hub plays WhatsApp's servers for it: it issues QR refs (so it can tell a
current ref from a stale one), pairing codes, records what the page sent, and relays the
test controls to the page as commands that the page acknowledges.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .config import SimConfig

__all__ = ["MODES", "WA_STATES", "ControlError", "Hub", "PageClient", "SimConfig"]

MODES = ("normal", "fail_load", "hang", "no_debug")
WA_STATES = (
    "OPENING", "PAIRING", "UNPAIRED", "UNPAIRED_IDLE", "CONNECTED", "CONFLICT", "TIMEOUT",
    "TOS_BLOCK", "SMB_TOS_BLOCK", "PROXYBLOCK", "DEPRECATED_VERSION", "UNLAUNCHED",
)
_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"


class ControlError(Exception):
    """A control request that cannot be carried out; maps to an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class PageClient:
    """What the server knows about one page (one browser profile)."""

    client_id: str
    build: str = "2024"
    ws: web.WebSocketResponse | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    state: str = "UNLAUNCHED"
    ready: bool = False
    ref: str | None = None
    ref_live: bool = False
    old_refs: set[str] = field(default_factory=set)
    keys: dict[str, str] = field(default_factory=dict)
    phone: str | None = None
    pushname: str | None = None
    past_phones: list[str] = field(default_factory=list)
    synced: bool = False
    url: str = ""
    seen: float = field(default_factory=time.monotonic)
    pairing_code: str | None = None
    pairing_phone: str | None = None
    pairing_code_deadline: float | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: What the page told the server besides sends: reactions, revokes, read receipts, chat
    #: states, number queries ({"kind", ..., "at": monotonic seconds}; messaging.py).
    activity: list[dict[str, Any]] = field(default_factory=list)
    #: The random token of the page's current load (its channel's hello), and the requests
    #: of each load already taken: a request the channel re-sends after a reconnect is the
    #: same stanza, not a second one.
    boot: str = ""
    requests: set[tuple[str, int]] = field(default_factory=set)
    queued: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    @property
    def pairing_code_expired(self) -> bool:
        """True once the current pairing code outlived its lifetime (it can no longer pair)."""
        deadline = self.pairing_code_deadline
        return bool(self.pairing_code) and deadline is not None and time.monotonic() > deadline

    @property
    def qr(self) -> str | None:
        """The QR string the page shows right now, or None when no live ref."""
        if not (self.ref and self.ref_live and self.keys):
            return None
        k = self.keys
        return ",".join([self.ref, k["noise"], k["identity"], k["adv"], k["platform"]])

    def info(self) -> dict[str, Any]:
        """Public view for GET /_sim/clients."""
        return {
            "client_id": self.client_id, "build": self.build, "connected": self.ws is not None,
            "ready": self.ready,
            "state": self.state, "ref": self.ref if self.ref_live else None, "qr": self.qr,
            "phone": self.phone, "pushname": self.pushname, "synced": self.synced,
            "url": self.url, "pairing_code": self.pairing_code,
            "pairing_code_expired": self.pairing_code_expired, "sent": len(self.sent),
        }


class Hub:
    """All pages, the break mode, and command round-trips."""

    def __init__(self, config: SimConfig) -> None:
        self.initial = dataclasses.replace(config)
        self.config = config
        self.mode = "normal"
        self.clients: dict[str, PageClient] = {}
        #: LIDs "WhatsApp's servers" handed out: lid user -> phone digits (see directory.py).
        self.lids: dict[str, str] = {}
        #: The media servers' files: directPath -> (bytes, mimetype) (messaging.py).
        self.media: dict[str, tuple[bytes, str]] = {}
        #: Each account's chats: phone -> chat id -> messages, oldest first (chatlog.py).
        self.histories: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._cmd_ids = itertools.count(1)
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background job; it is cancelled when the simulator stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def reset(self) -> None:
        """Forget every page, mode and config change."""
        for client in self.clients.values():
            for fut in client.pending.values():
                if not fut.done():
                    fut.set_exception(ControlError(410, "simulator was reset"))
        self.clients.clear()
        self.lids.clear()
        self.media.clear()
        self.histories.clear()
        self.mode = "normal"
        self.config = dataclasses.replace(self.initial)

    def client(self, client_id: str) -> PageClient:
        """The record for `client_id`, created on first sight."""
        if client_id not in self.clients:
            self.clients[client_id] = PageClient(client_id)
        return self.clients[client_id]

    def issue_ref(self, client: PageClient) -> str:
        """A fresh QR ref for `client`; its previous ref becomes stale."""
        if client.ref:
            client.old_refs.add(client.ref)
        client.ref = "2@" + secrets.token_urlsafe(60)
        client.ref_live = True
        return client.ref

    def issue_pairing_code(self, client: PageClient, phone: str) -> tuple[str, float]:
        """A fresh 8-character pairing code for `client` and `phone`, and its lifetime in
        seconds (0: it never expires; the page's build decides, see config.BUILD_DEFAULTS)."""
        client.pairing_code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        client.pairing_phone = _digits(phone)
        ttl = float(self.config.resolved(client.build)["pairing_code_ttl_s"])
        client.pairing_code_deadline = time.monotonic() + ttl if ttl > 0 else None
        return client.pairing_code, ttl

    # ----- addressing -------------------------------------------------------------------
    def by_ref(self, ref: str) -> PageClient:
        """The page showing `ref`; 409 when the ref was shown once but is no longer valid."""
        for client in self.clients.values():
            if client.ref == ref and client.ref_live:
                return client
        for client in self.clients.values():
            if ref == client.ref or ref in client.old_refs:
                raise ControlError(409, "stale QR ref (expired or replaced)")
        raise ControlError(404, "no page ever showed this ref")

    def by_phone(self, phone: str) -> PageClient:
        """The page paired to `phone` (preferring connected, then most recent)."""
        digits = _digits(phone)
        now = [c for c in self.clients.values() if c.phone == digits]
        past = [c for c in self.clients.values() if digits in c.past_phones]
        for group in (now, past):
            if group:
                return max(group, key=lambda c: (c.ws is not None, c.seen))
        raise ControlError(404, f"no page paired to {digits}")

    def resolve(self, body: dict[str, Any]) -> PageClient:
        """Find the page a control addresses: client_id, qr, ref, code or phone."""
        if body.get("client_id"):
            if body["client_id"] not in self.clients:
                raise ControlError(404, "unknown client_id")
            return self.clients[body["client_id"]]
        if body.get("qr"):
            return self.by_ref(str(body["qr"]).split(",", 1)[0])
        if body.get("ref"):
            return self.by_ref(str(body["ref"]))
        if body.get("code"):
            code = str(body["code"]).replace("-", "").upper()
            for client in self.clients.values():
                if client.pairing_code == code:
                    return client
            raise ControlError(404, "unknown pairing code")
        if body.get("phone"):
            return self.by_phone(str(body["phone"]))
        raise ControlError(400, "address the page by client_id, qr, ref, code or phone")

    # ----- commands ---------------------------------------------------------------------
    async def command(self, client: PageClient, cmd: str, timeout: float | None = None,
                      **args: Any) -> dict[str, Any]:
        """Send `cmd` to the page and return its result; waits for a reconnect if needed."""
        limit = self.config.control_timeout_s if timeout is None else timeout
        deadline = asyncio.get_running_loop().time() + limit
        try:
            async with asyncio.timeout_at(deadline):
                while client.ws is None:
                    await client.connected.wait()
                    await asyncio.sleep(0)
                cmd_id = next(self._cmd_ids)
                fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
                client.pending[cmd_id] = fut
                try:
                    await client.ws.send_json({"type": "cmd", "cmd_id": cmd_id, "cmd": cmd, **args})
                    return await fut
                finally:
                    client.pending.pop(cmd_id, None)
        except TimeoutError:
            raise ControlError(504, f"page did not acknowledge {cmd!r} within {limit}s") from None

    def detach(self, client: PageClient, ws: web.WebSocketResponse) -> None:
        """The page's socket closed: its QR dies, its pending commands fail."""
        if client.ws is not ws:
            return
        client.ws = None
        client.connected.clear()
        client.ref_live = False
        for fut in client.pending.values():
            if not fut.done():
                fut.set_exception(ControlError(502, "page went away before acknowledging"))


def _digits(phone: str) -> str:
    return "".join(ch for ch in str(phone) if ch.isdigit())


def new_message_id() -> str:
    """An incoming message id shaped like a phone's (32 uppercase hex digits)."""
    return secrets.token_hex(16).upper()
