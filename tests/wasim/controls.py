"""Test controls under /_sim/: the test plays "the phone" and "WhatsApp's servers" with them.

A driver must never call these; they are out of band. Every control that touches a page
returns only after the page acknowledged it (or 504 after the control timeout). Errors are
JSON ``{"error": "..."}`` with a meaningful status (400 bad request, 404 unknown page,
409 wrong moment or stale ref, 410 expired pairing code, 502 page went away, 504 page did
not answer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import chatlog, directory
from .hub import MODES, WA_STATES, ControlError, Hub, PageClient
from .inbound import incoming_args

__all__ = ["add_control_routes", "control_route"]

Handler = Callable[[Hub, dict[str, Any]], Awaitable[Any]]


def _phone(body: dict[str, Any]) -> str:
    digits = "".join(ch for ch in str(body.get("phone") or "") if ch.isdigit())
    if not 6 <= len(digits) <= 15:
        raise ControlError(400, "phone must be 6-15 digits (international, no +)")
    return digits


async def _pair(hub: Hub, client: PageClient, body: dict[str, Any], via: str) -> dict[str, Any]:
    phone = _phone(body)
    result = await hub.command(client, "pair", via=via, ref=client.ref, phone=phone,
                               pushname=body.get("pushname"), lid=directory.lid_for(hub, phone),
                               platform=body.get("platform", "android"),
                               contacts=directory.known_contacts(hub))
    client.ref_live = False
    client.pairing_code = None
    return {"client_id": client.client_id, "phone": phone, "wid": result.get("wid")}


async def scan(hub: Hub, body: dict[str, Any]) -> Any:
    """Scan the QR a page shows (by qr string, ref or client_id) with the phone `phone`."""
    client = hub.resolve(body)
    if not client.ref_live:
        raise ControlError(409, "the page shows no live QR")
    if body.get("qr") and body["qr"] != client.qr:
        raise ControlError(409, "QR string does not match the page's keys")
    return await _pair(hub, client, body, "qr")


async def pairing_code(hub: Hub, body: dict[str, Any]) -> Any:
    """Enter on the phone a pairing code the page obtained via startAltLinkingFlow."""
    client = hub.resolve({k: body.get(k) for k in ("client_id", "code")})
    if not client.pairing_code:
        raise ControlError(409, "the page has not asked for a pairing code")
    if client.pairing_code_expired:
        raise ControlError(410, "the pairing code expired; the page must ask for a new one")
    body = dict(body)
    body.setdefault("phone", client.pairing_phone)
    if _phone(body) != client.pairing_phone:
        raise ControlError(409, "the code was issued for another phone number")
    return await _pair(hub, client, body, "code")


async def incoming(hub: Hub, body: dict[str, Any]) -> Any:
    """Deliver a message to a paired page (Msg `add`, isNewMsg true)."""
    client = hub.resolve({k: body.get(k) for k in ("client_id", "phone")})
    args = incoming_args(hub, client, body)
    if body.get("queue") and client.ws is None:
        client.queued.append({"cmd": "incoming", **args})
        return web.json_response({"queued": True, "id": args["id"]}, status=202)
    result = await hub.command(client, "incoming", **args)
    chatlog.record_incoming(hub, client, args)
    return result


async def ack(hub: Hub, body: dict[str, Any]) -> Any:
    """Move a sent message's ack (1 server, 2 device, 3 read, 4 played; -1 error).

    A message recorded undelivered (wrong ``from`` for the chat's addressing) cannot go past
    1: WhatsApp's server accepts it (one tick) but no device ever gets it (rmyndharis/OpenWA
    #199: group sends "silently never delivered" after the LID migration, status stays
    "sent"; canove/whaileys #99: LID groups, "a single check ... delivered to nobody").
    Ack -1 (error) stays possible for tests of failure paths."""
    message_id = str(body.get("message_id") or "")
    level = body.get("ack")
    if not isinstance(level, int) or not -1 <= level <= 4:
        raise ControlError(400, "ack must be an integer from -1 to 4")
    if body.get("client_id") or body.get("phone"):
        client = hub.resolve({k: body.get(k) for k in ("client_id", "phone")})
    else:
        owners = [c for c in hub.clients.values() if any(m["id"] == message_id for m in c.sent)]
        if not owners:
            raise ControlError(404, "no page sent a message with this id")
        client = owners[0]
    record = next((m for m in client.sent if m["id"] == message_id), None)
    if record is not None and record.get("delivered") is False and level >= 2:
        raise ControlError(409, "this message reached no recipient (undelivered): it stays at 1")
    result = await hub.command(client, "ack", message_id=message_id, ack=level)
    chatlog.set_ack(hub, client, message_id, level)
    return result


async def logout(hub: Hub, body: dict[str, Any]) -> Any:
    """Log the page out from the phone (Cmd `logout`, storage cleared, ?post_logout=1)."""
    return await hub.command(hub.resolve(body), "logout")


async def set_state(hub: Hub, body: dict[str, Any]) -> Any:
    """Force a Socket state (CONFLICT, TIMEOUT, TOS_BLOCK, ...)."""
    if body.get("state") not in WA_STATES:
        raise ControlError(400, f"state must be one of {', '.join(WA_STATES)}")
    return await hub.command(hub.resolve(body), "state", state=body["state"])


async def set_mode(hub: Hub, body: dict[str, Any]) -> Any:
    """Break (or mend) the page for the next loads."""
    if body.get("mode") not in MODES:
        raise ControlError(400, f"mode must be one of {', '.join(MODES)}")
    hub.mode = body["mode"]
    return {"mode": hub.mode}


async def set_config(hub: Hub, body: dict[str, Any]) -> Any:
    """Change timings for pages loaded from now on (e.g. {"ref_ttl_s": 1})."""
    try:
        hub.config.update(body)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ControlError(400, f"bad config: {exc}") from None
    return hub.config.resolved() | {"no_debug": False}


async def reset(hub: Hub, body: dict[str, Any]) -> Any:
    """Forget every page, the mode and config changes."""
    hub.reset()
    return {"ok": True}


def control_route(key: web.AppKey[Hub], handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A POST route running `handler` on the hub with the JSON body; ControlError -> its status."""
    async def route(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        try:
            result = await handler(request.app[key], body)
        except ControlError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        return result if isinstance(result, web.StreamResponse) else web.json_response(result)
    return route


def add_control_routes(app: web.Application, key: web.AppKey[Hub]) -> None:
    """Mount the /_sim/ controls on `app` (the hub lives at app[key])."""

    def post(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        return control_route(key, handler)

    async def clients(request: web.Request) -> web.StreamResponse:
        hub = request.app[key]
        everyone = request.query.get("all") in ("1", "true")
        return web.json_response([c.info() for c in hub.clients.values()
                                  if everyone or c.ws is not None])

    async def sent(request: web.Request) -> web.StreamResponse:
        hub = request.app[key]
        try:
            client = hub.resolve({k: request.query.get(k) for k in ("client_id", "phone")})
        except ControlError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        return web.json_response(client.sent)

    async def lid(request: web.Request) -> web.StreamResponse:
        hub = request.app[key]
        try:
            phone = _phone({"phone": request.query.get("phone")})
        except ControlError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        return web.json_response({"phone": phone, "lid": directory.lid_for(hub, phone) + "@lid",
                                  "on_whatsapp": directory.on_whatsapp(hub, phone)})

    async def state(request: web.Request) -> web.StreamResponse:
        hub = request.app[key]
        return web.json_response({"mode": hub.mode, "config": await set_config(hub, {})})

    app.router.add_get("/_sim/clients", clients)
    app.router.add_get("/_sim/sent", sent)
    app.router.add_get("/_sim/lid", lid)
    app.router.add_get("/_sim/mode", state)
    app.router.add_get("/_sim/config", state)
    for path, handler in [("scan", scan), ("pairing-code", pairing_code), ("incoming", incoming),
                          ("ack", ack), ("logout", logout), ("state", set_state),
                          ("mode", set_mode), ("config", set_config), ("reset", reset)]:
        app.router.add_post(f"/_sim/{path}", post(handler))
