"""A WhatsApp session's whole life, end to end: real daemon, real workers, real Chrome, the local
WhatsApp Web simulator playing WhatsApp's servers and the phone.

create -> QR (PNG and raw, as the page shows it, refreshed) -> scan -> WORKING with the number
-> send (exactly that text to exactly that chat) -> acks, incoming messages, filtered kinds,
bot command -> daemon restart (WORKING again, no QR) -> logout from the phone (profile deleted,
the other session untouched).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.daemon import API_KEY, Daemon
from tests.support.procs import wait_until
from tests.support.wa import (
    CONTACT,
    PHONE_A,
    PHONE_B,
    fast_simulator,
    login,
    page_showing,
    png_modules,
    qr_modules,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with fast_simulator(ref_ttl_s=1.0) as running:
        yield running


@pytest.fixture
def daemon(workdir: Path, free_port: int, sim: RunningSimulator) -> Iterator[Daemon]:
    d = wa_daemon(workdir, free_port, sim, whatsapp={
        "commands": ["ping", "help", "info"], "ignore_groups": True, "ignore_status": True,
        "ignore_newsletters": True, "qr_max_refreshes": 60})
    with serving(d):
        yield d


def get(d: Daemon, path: str, accept: str = "*/*") -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, for non-JSON answers."""
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}",
                                 headers={"X-Api-Key": API_KEY, "Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.headers["Content-Type"], resp.read()


def test_login_send_receive_restart_logout(daemon: Daemon, sim: RunningSimulator) -> None:
    d = daemon
    d.client.post("/api/sessions", {"id": "a"})
    d.client.post("/api/sessions", {"id": "b"})

    # The QR on offer is the one the page shows, in every format; it is refreshed with the page's.
    d.wait_state("a", "SCAN_QR_CODE")
    status = d.client.get("/api/sessions/a/status")
    assert status["qr_available"] is True and status["phone_number"] is None
    first = d.client.get("/api/sessions/a/qr?format=raw")["value"]
    page = page_showing(sim, first)
    assert first.split(",")[0] == page["ref"] and first.endswith(",WEB")
    code, kind, png = get(d, "/api/sessions/a/qr")
    assert (code, kind) == (200, "image/png")
    encoded = json.loads(get(d, "/api/sessions/a/qr", accept="application/json")[2])
    assert encoded["mimetype"] == "image/png"
    for image in (png, base64.b64decode(encoded["data"])):
        current = d.client.get("/api/sessions/a/qr?format=raw")["value"]
        assert png_modules(image) in (qr_modules(first), qr_modules(current))  # ~1 s per QR
    shown = wait_event(d, lambda e: e["payload"]["qr"] == first, "session.qr", session="a")
    attempt = shown[-1]["payload"]["attempt"]
    refreshed = wait_event(d, lambda e: e["payload"]["attempt"] == attempt + 1, "session.qr", session="a")
    second = refreshed[-1]["payload"]["qr"]
    assert second != first and second.split(",")[1:] == first.split(",")[1:]  # new ref, same keys
    assert [e["payload"]["attempt"] for e in refreshed] == list(range(1, attempt + 2))

    info = login(d, sim, "a", PHONE_A)
    assert info["phone_number"] == PHONE_A and info["state"] == "WORKING"
    assert d.client.get("/api/sessions/a/status")["qr_available"] is False
    login(d, sim, "b", PHONE_B)

    # Send: exactly that text, to exactly that chat; the reply has the id and the ack.
    sent = d.client.post("/api/sessions/a/messages", {"to": "+55 11 99999-9999", "text": "olá, mundo"})
    assert sent["to"] == f"{CONTACT}@c.us" and sent["ack"] in (0, 1) and sent["session"] == "a"
    assert [(m["id"], m["to"], m["body"]) for m in sim.sent(phone=PHONE_A)] == \
        [(sent["id"], f"{CONTACT}@c.us", "olá, mundo")]
    assert sim.sent(phone=PHONE_B) == []
    acks = wait_event(d, lambda e: e["payload"] == {"id": sent["id"], "ack": 1}, "message.ack", session="a")
    assert acks[-1]["session"] == "a"

    # Incoming: the filtered kinds raise no event; a private message does, with its fields.
    sim.incoming("120363000000000001@g.us", "to the group", phone=PHONE_A, author=f"{CONTACT}@c.us")
    sim.incoming(f"{CONTACT}@c.us", "my status", phone=PHONE_A, kind="status")
    sim.incoming("120363111111111111@newsletter", "news", phone=PHONE_A)
    hello = sim.incoming(f"{CONTACT}@c.us", "hello there", phone=PHONE_A, pushname="Ana")
    messages = wait_event(d, lambda e: e["payload"]["id"] == hello["id"], "message", session="a")
    assert [m["payload"]["body"] for m in messages] == ["hello there"]  # nothing filtered came first
    assert messages[-1]["payload"] | {"timestamp": 0} == {
        "id": hello["id"], "from": f"{CONTACT}@c.us", "to": f"{PHONE_A}@c.us", "chat_id": f"{CONTACT}@c.us",
        "body": "hello there", "type": "chat", "timestamp": 0, "from_me": False, "author": None,
        "kind": "private", "notify_name": "Ana", "sender_id": f"{CONTACT}@c.us",
        "sender_phone": CONTACT, "has_media": False, "mimetype": None, "filename": None, "size": None,
        "caption": None, "quoted_id": None, "mentions": []}

    # A bot command is answered by the session itself, in that chat.
    sim.incoming(f"{CONTACT}@c.us", "!ping", phone=PHONE_A)
    sim.wait_for(lambda: len(sim.sent(phone=PHONE_A)) == 2, what="the bot's answer")
    assert sim.sent(phone=PHONE_A)[-1]["to"] == f"{CONTACT}@c.us"
    assert sim.sent(phone=PHONE_A)[-1]["body"] == "pong"

    # Daemon restart: both come back WORKING from their profiles, without a QR.
    restarted_at = time.time()
    assert d.stop() == 0
    d.start()
    for session_id, phone in (("a", PHONE_A), ("b", PHONE_B)):
        assert d.wait_state(session_id, "WORKING")["phone_number"] == phone
    working: set[str] = set()

    def both_working(event: dict[str, Any]) -> bool:
        if event["timestamp"] >= restarted_at and event["payload"].get("state") == "WORKING":
            working.add(event["session"])
        return working == {"a", "b"}

    since = [e for e in wait_event(d, both_working, "session.status,session.qr")
             if e["timestamp"] >= restarted_at]
    assert [c["qr"] for c in sim.clients()] == [None, None]  # no page showed a QR again
    assert not [e for e in since if e["event"] == "session.qr"]
    assert "SCAN_QR_CODE" not in [e["payload"].get("state") for e in since]

    # Logout from the phone: event, Chrome closed, profile deleted; b untouched.
    b_worker = d.session("b")["worker_pid"]
    a_profile = Path(d.session("a")["profile_dir"])
    assert a_profile.is_dir()
    sim.logout(phone=PHONE_A)
    logout = wait_event(d, lambda e: e["event"] == "session.logout", "session.logout", session="a")
    assert logout[-1]["payload"] == {"origin": "phone", "phone_number": PHONE_A}
    d.wait_state("a", "STOPPED")
    # The record says so once the profile is gone: wait for the record, then check both.
    wait_until(lambda: "logged out" in str(d.session("a")["last_exit"]), timeout=20,
               message="a's profile deleted")
    assert not a_profile.exists()
    a = d.session("a")
    assert a["phone_number"] is None and a["desired"] == "stopped" and "logged out" in a["last_exit"]
    b = d.session("b")
    assert b["state"] == "WORKING" and b["worker_pid"] == b_worker and psutil.pid_exists(b_worker)
    assert Path(b["profile_dir"]).is_dir()
    assert d.client.post("/api/sessions/b/messages", {"to": CONTACT, "text": "still here"})["id"]
