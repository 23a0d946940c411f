"""Running the simulator: in-process (async), in a background thread (sync tests), and a
small synchronous client for the /_sim/ controls.

    with run_simulator(ref_ttl_s=1) as sim:
        ...  # point the driver at sim.url
        sim.scan(qr=qr_from_zapvisor, phone="244929782402")
        sim.incoming(phone="244929782402", sender="5511999999999@c.us", body="hi")
        assert [m["body"] for m in sim.sent(phone="244929782402")] == ["hello"]

    with run_simulator(build="2026", late_modules_ms=300) as sim:   # the 2026 WhatsApp Web
        ...
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from aiohttp import web

from .app import HUB, make_app
from .hub import Hub, SimConfig

__all__ = ["RunningSimulator", "SimControl", "SimError", "Simulator", "run_simulator"]

T = TypeVar("T")


class Simulator:
    """The simulator server on the current event loop; port 0 picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 config: SimConfig | None = None) -> None:
        self.host = host
        self.port = port
        self.app = make_app(config)
        self._runner: web.AppRunner | None = None

    @property
    def hub(self) -> Hub:
        """Server-side state (for in-process inspection)."""
        return self.app[HUB]

    @property
    def url(self) -> str:
        """The page's address, e.g. http://127.0.0.1:8090/."""
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Bind and serve."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Close every page socket and stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class SimError(Exception):
    """A control answered with an error status."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{status}: {error}")
        self.status = status
        self.error = error


class SimControl:
    """Synchronous client for the /_sim/ controls of a running simulator."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              query: dict[str, str | None] | None = None) -> Any:
        target = self.url + "_sim/" + path
        if query:
            target += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(
            {k: v for k, v in body.items() if v is not None}).encode()
        req = urllib.request.Request(target, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                error = json.loads(payload).get("error", payload.decode())
            except ValueError:
                error = payload.decode(errors="replace")
            raise SimError(exc.code, error) from None

    def _obj(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return cast(dict[str, Any], self._call(method, path, body))

    def _list(self, path: str, query: dict[str, str | None]) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", path, query=query))

    def clients(self, include_disconnected: bool = False) -> list[dict[str, Any]]:
        """Pages known to the server: client_id, state, ref, qr, phone, synced, ..."""
        return self._list("clients", {"all": "1" if include_disconnected else None})

    def client(self, client_id: str) -> dict[str, Any]:
        """One page's record (connected or not)."""
        for c in self.clients(include_disconnected=True):
            if c["client_id"] == client_id:
                return c
        raise SimError(404, "unknown client_id")

    def scan(self, qr: str | None = None, phone: str = "244929782402", *, ref: str | None = None,
             client_id: str | None = None, pushname: str | None = None) -> dict[str, Any]:
        """Scan a QR with the phone `phone`; 409 (SimError) for a stale ref."""
        return self._obj("POST", "scan", {"qr": qr, "ref": ref, "client_id": client_id,
                                           "phone": phone, "pushname": pushname})

    def pairing_code(self, code: str | None = None, *, client_id: str | None = None,
                     phone: str | None = None, pushname: str | None = None) -> dict[str, Any]:
        """Enter a pairing code on the phone."""
        return self._obj("POST", "pairing-code", {"code": code, "client_id": client_id,
                                                   "phone": phone, "pushname": pushname})

    def incoming(self, sender: str, body: str | None, *, phone: str | None = None,
                 client_id: str | None = None, kind: str | None = None,
                 author: str | None = None, pushname: str | None = None,
                 queue: bool = False, **fields: Any) -> dict[str, Any]:
        """Deliver a message from `sender` (…@c.us, …@lid, …@g.us + author, …@newsletter,
        status). `fields`: type (image|video|document|audio|ptt|sticker, body None) with caption,
        mimetype, filename, size or data (base64 bytes); quoted_id, mentions; sender_phone /
        author_phone (2026: the phone behind a LID)."""
        return self._obj("POST", "incoming", {
            "phone": phone, "client_id": client_id, "from": sender, "body": body, "kind": kind,
            "author": author, "pushname": pushname, "queue": queue or None, **fields})

    def lid(self, phone: str) -> dict[str, Any]:
        """What WhatsApp's servers know of `phone`: {phone, lid: "…@lid", on_whatsapp}."""
        return cast(dict[str, Any], self._call("GET", "lid", query={"phone": phone}))

    def ack(self, message_id: str, ack: int, **address: str) -> dict[str, Any]:
        """Set a sent message's ack level."""
        return self._obj("POST", "ack", {"message_id": message_id, "ack": ack, **address})

    def logout(self, **address: str) -> dict[str, Any]:
        """Log out from the phone (client_id= or phone=)."""
        return self._obj("POST", "logout", dict(address))

    def set_state(self, state: str, **address: str) -> dict[str, Any]:
        """Force a Socket state on a page (client_id= or phone=)."""
        return self._obj("POST", "state", {"state": state, **address})

    def sent(self, *, phone: str | None = None, client_id: str | None = None) -> list[dict[str, Any]]:
        """Every message the page sent, in order, once per id: [{id, to, body, t, type, from,
        participant, delivered, reason, copies, at}]; delivered false = WhatsApp accepted it (ack 1)
        but nobody got it; copies = how many stanzas carried that id (1 unless sent again)."""
        return self._list("sent", {"phone": phone, "client_id": client_id})

    def control(self, name: str, **body: Any) -> dict[str, Any]:
        """POST /_sim/<name>: the phone's messaging controls (reaction, revoke, edit, group,
        group-event, history; see tests/wasim/messaging.py)."""
        return self._obj("POST", name, body)

    def activity(self, *, phone: str, kind: str | None = None) -> list[dict[str, Any]]:
        """What the page told the server (reaction, revoke, seen, chatstate, query), in order."""
        return self._list("activity", {"phone": phone, "kind": kind})

    def media(self, direct_path: str) -> bytes:
        """The bytes the media servers keep under ``direct_path`` (a sent or received file)."""
        query = urllib.parse.urlencode({"direct_path": direct_path})
        with urllib.request.urlopen(f"{self.url}_sim/media?{query}", timeout=self.timeout) as resp:
            return bytes(resp.read())

    def mode(self, mode: str) -> dict[str, Any]:
        """normal | fail_load | hang | no_debug, for the next page loads."""
        return self._obj("POST", "mode", {"mode": mode})

    def config(self, **changes: Any) -> dict[str, Any]:
        """Change timings for pages loaded from now on (ref_ttl_s=1, sync_ms=200, build="2026",
        ...); not_on_whatsapp, pn_groups and known_contacts apply at once."""
        return self._obj("POST", "config", changes)

    def reset(self) -> dict[str, Any]:
        """Forget every page, mode and config change."""
        return self._obj("POST", "reset", {})

    def wait_for(self, probe: Callable[[], T | None], timeout: float = 10.0,
                 interval: float = 0.05, what: str = "condition") -> T:
        """Poll `probe` until it returns something truthy; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(interval)

    def wait_client(self, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """Wait until a connected page's record matches every `field=value` in `match`."""
        def probe() -> dict[str, Any] | None:
            for c in self.clients():
                if all(c.get(k) == v for k, v in match.items()):
                    return c
            return None
        return self.wait_for(probe, timeout, what=f"a page with {match}")


class RunningSimulator(SimControl):
    """A simulator served from a background thread, with its controls."""

    def __init__(self, sim: Simulator, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(sim.url)
        self.simulator = sim
        self.loop = loop


@contextmanager
def run_simulator(host: str = "127.0.0.1", port: int = 0, config: SimConfig | None = None,
                  **overrides: Any) -> Iterator[RunningSimulator]:
    """Serve the simulator from a thread with its own loop; `overrides` tweak SimConfig
    (e.g. ``build="2026", late_modules_ms=300, missing=["WAWebMsgKey.newId"]``)."""
    cfg = config or SimConfig()
    cfg.update(overrides)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []
    holder: list[Simulator] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            sim = Simulator(host, port, cfg)
            loop.run_until_complete(sim.start())
            holder.append(sim)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failure.append(exc)
            return
        finally:
            started.set()
        loop.run_forever()
        loop.run_until_complete(sim.stop())
        loop.close()

    thread = threading.Thread(target=serve, name="wasim", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]
    running = RunningSimulator(holder[0], loop)
    try:
        yield running
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
