"""The aiohttp application: the fake WhatsApp Web page, its WebSocket, and the controls.

Routes:
    GET /              the page (honours the break mode: fail_load, hang, no_debug);
                       ``?build=2024|2026`` picks the build for this load (default: config)
    GET /_wasim/*.js   the page's scripts
    GET /_sim/ws       the page's channel back to "WhatsApp's servers"
    /_sim/...          the test controls (see controls.py, messaging.py)
    /_sim/mms...       WhatsApp's media servers (messaging.py)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from . import chatlog, directory, messaging
from .config import BUILDS
from .controls import add_control_routes
from .hub import ControlError, Hub, PageClient, SimConfig

__all__ = ["HUB", "make_app"]

STATIC = Path(__file__).with_name("static")
HUB: web.AppKey[Hub] = web.AppKey("wasim_hub", Hub)
log = logging.getLogger("wasim")
_NO_STORE = {"Cache-Control": "no-store"}


async def index(request: web.Request) -> web.StreamResponse:
    """Serve the page, or break the way the current mode asks."""
    hub = request.app[HUB]
    if hub.mode == "fail_load":
        return web.Response(status=500, text="simulated server error", headers=_NO_STORE)
    if hub.mode == "hang":
        await hub.stopping.wait()
        return web.Response(status=503, text="simulator stopping", headers=_NO_STORE)
    build = request.query.get("build") or None
    if build is not None and build not in BUILDS:
        return web.Response(status=400, text=f"build must be one of {', '.join(BUILDS)}")
    config = json.dumps(hub.config.page_config(no_debug=hub.mode == "no_debug", build=build))
    html = (STATIC / "index.html").read_text().replace("{{CONFIG}}", config.replace("</", "<\\/"))
    return web.Response(text=html, content_type="text/html", headers=_NO_STORE)


async def script(request: web.Request) -> web.StreamResponse:
    """Serve one of the page's scripts."""
    name = request.match_info["name"]
    path = STATIC / f"{name}.js"
    if "/" in name or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(text=path.read_text(), content_type="application/javascript",
                        headers=_NO_STORE)


async def page_socket(request: web.Request) -> web.StreamResponse:
    """One page's channel: hello, status reports, rpc requests, command results."""
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=10)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    client: PageClient | None = None
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "hello":
                client = await _hello(hub, ws, data)
            elif client is not None:
                await _handle(hub, client, ws, data)
    finally:
        request.app[SOCKETS].discard(ws)
        if client is not None:
            hub.detach(client, ws)
    return ws


async def _hello(hub: Hub, ws: web.WebSocketResponse, data: dict[str, Any]) -> PageClient:
    client = hub.client(str(data["client_id"]))
    old = client.ws
    client.ws = ws
    if old is not None and old is not ws:
        await old.close()
    if data.get("boot") != client.boot:  # a new load of the page: its request ids start again
        client.boot, client.requests = str(data.get("boot")), set()
    _update_status(client, data)
    client.ref_live = bool(data.get("ref_live")) and data.get("ref") == client.ref
    client.connected.set()
    await ws.send_json({"type": "welcome", "client_id": client.client_id})
    queued, client.queued = client.queued, []
    for item in queued:
        hub.spawn(_deliver_queued(hub, client, item))
    return client


async def _deliver_queued(hub: Hub, client: PageClient, item: dict[str, Any]) -> None:
    try:
        await hub.command(client, item.pop("cmd"), timeout=30, **item)
    except Exception as exc:  # noqa: BLE001 - best effort, logged
        log.warning("queued command for %s failed: %s", client.client_id, exc)
    else:
        chatlog.record_incoming(hub, client, item)


def _update_status(client: PageClient, data: dict[str, Any]) -> None:
    client.seen = time.monotonic()
    client.build = str(data.get("build", client.build))
    client.state = str(data.get("state", client.state))
    client.ready = bool(data.get("ready", client.ready))
    client.synced = bool(data.get("synced", client.synced))
    client.url = str(data.get("url", client.url))
    client.pushname = data.get("pushname")
    phone = data.get("phone")
    client.phone = str(phone) if phone else None
    if client.phone and client.phone not in client.past_phones:
        client.past_phones.append(client.phone)
    if data.get("keys"):
        client.keys = {k: str(v) for k, v in data["keys"].items()}
    if client.phone:
        client.ref_live = False


async def _handle(hub: Hub, client: PageClient, ws: web.WebSocketResponse,
                  data: dict[str, Any]) -> None:
    kind = data.get("type")
    if kind == "status":
        _update_status(client, data)
    elif kind == "cmd_result":
        fut = client.pending.get(int(data["cmd_id"]))
        if fut is not None and not fut.done():
            if data.get("ok"):
                fut.set_result(data.get("result") or {})
            else:
                fut.set_exception(ControlError(int(data.get("status", 500)),
                                               str(data.get("error"))))
    elif kind == "ref_expired":
        if data.get("ref") == client.ref:
            client.ref_live = False
    elif kind == "code_cancelled":
        client.pairing_code = None
    elif kind == "logged_out":
        client.phone = None
        client.synced = False
        client.ref_live = False
        client.pairing_code = None
    elif kind in messaging.RPCS:
        await ws.send_json({"type": "reply", "req_id": data.get("req_id"), "ok": True,
                            **messaging.answer(hub, client, str(kind), data)})
    elif kind in ("ref", "pairing_code", "sent", "query_exists", "group_info"):
        reply: dict[str, Any] = {"type": "reply", "req_id": data.get("req_id"), "ok": True}
        if kind == "ref":
            reply["ref"] = hub.issue_ref(client)
        elif kind == "pairing_code":
            phone = str(data.get("phone", ""))
            reply["code"], reply["ttl_s"] = hub.issue_pairing_code(client, phone)
        elif kind == "sent":
            _record_sent(hub, client, data)
            if hub.config.sent_reply_delay_ms:
                hub.spawn(_reply_later(ws, reply, hub.config.sent_reply_delay_ms / 1000))
                return
        else:
            if kind == "query_exists":  # a number check: the test reads the pace back
                client.activity.append({"kind": "query", "id": data.get("id"), "at": time.monotonic()})
            reply.update(directory.answer(hub, kind, data))
        await ws.send_json(reply)


async def _reply_later(ws: web.WebSocketResponse, reply: dict[str, Any], delay_s: float) -> None:
    """The server's answer to a stanza it already delivered, late (``sent_reply_delay_ms``)."""
    await asyncio.sleep(delay_s)
    if not ws.closed:
        await ws.send_json(reply)


def _record_sent(hub: Hub, client: PageClient, data: dict[str, Any]) -> None:
    """Keep a sent message (once per id, with the number of stanzas that carried it: ``copies``,
    and when it came: ``at``, monotonic seconds as activity's), put it in its chat's history, and
    schedule its server ack (ack 1).

    A message id names one message (its key is ``fromMe_remote_id``, wa-js MsgKey): the record
    is the first stanza's, a second one under the id only counts (``copies``, so tests can
    prove a send went out once). The channel's re-send of a request after a reconnect is the
    same stanza, counted once. The server accepts (ack 1) even a message that will reach
    nobody: ``delivered`` false (the page found its ``from`` wrong for the chat's addressing,
    see static/lid.js) only means it never goes further (controls.ack refuses 2-4)."""
    request = (client.boot, int(data.get("req_id") or 0))
    if request in client.requests:
        return
    client.requests.add(request)
    known = next((m for m in client.sent if m["id"] == data["id"]), None)
    if known is not None:
        known["copies"] += 1
        return
    record = {"id": data["id"], "to": data["to"], "body": data.get("body"),
              "t": data.get("t"), "type": data.get("msg_type", "chat"),
              "from": data.get("from"), "participant": data.get("participant"),
              "delivered": data.get("delivered", True) is not False,
              "reason": data.get("reason"), "quoted_id": data.get("quoted_id"),
              "mentions": data.get("mentions") or [], "copies": 1, "at": time.monotonic(),
              **{k: data[k] for k in messaging.MEDIA_FIELDS if k in data}}
    client.sent.append(record)
    chatlog.record_sent(hub, client, record)

    async def server_ack() -> None:
        await asyncio.sleep(hub.config.ack_delay_ms / 1000)
        try:
            await hub.command(client, "ack", message_id=data["id"], ack=1)
        except Exception as exc:  # noqa: BLE001 - the page may have gone; nothing to do
            log.info("server ack for %s not delivered: %s", data["id"], exc)

    hub.spawn(server_ack())


SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("wasim_sockets")


async def _on_shutdown(app: web.Application) -> None:
    app[HUB].stopping.set()
    for task in list(app[HUB].tasks):
        task.cancel()
    sockets: set[web.WebSocketResponse] = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=1001, message=b"simulator stopping")


def make_app(config: SimConfig | None = None) -> web.Application:
    """Build the simulator application."""
    app = web.Application(client_max_size=256 * 1024 * 1024)  # media in test controls
    app[HUB] = Hub(config or SimConfig())
    sockets: set[web.WebSocketResponse] = set()
    app[SOCKETS] = sockets
    app.router.add_get("/", index)
    app.router.add_get("/_wasim/{name}.js", script)
    app.router.add_get("/_sim/ws", page_socket)
    add_control_routes(app, HUB)
    messaging.add_routes(app, HUB)
    app.on_shutdown.append(_on_shutdown)
    return app
