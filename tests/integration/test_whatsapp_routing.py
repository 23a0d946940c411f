"""Where a send goes, and every way to get it wrong: the default session, roles round-robin, the
seeds' aliases, pairing codes, API logout, the CLI; unknown sessions, wrong states, bad numbers,
empty and oversize texts. Real daemon, workers, Chrome, simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.cli.whatsapp import render_qr
from supervisor.errors import ZapvisorError
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.wa import (
    CONTACT,
    PHONE_A,
    PHONE_B,
    PHONE_C,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome
PHONE_D = "244929782405"


@pytest.fixture
def daemon(workdir: Path, free_port: int, sim: RunningSimulator) -> Iterator[Daemon]:
    d = wa_daemon(workdir, free_port, sim, sessions={"start_default_session": True},
                  whatsapp={"max_text_chars": 50})
    with serving(d):
        yield d


def refused(d: Daemon, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, str]:
    """(HTTP status, message) of a request that must fail."""
    with pytest.raises(ZapvisorError) as err:
        d.client.request(method, path, body)
    return err.value.status, err.value.message


def cli(d: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor", "--config", str(d.config_path), *args],
                          capture_output=True, text=True, timeout=60)


def sent_to(sim: RunningSimulator, phone: str) -> list[tuple[str, str]]:
    return [(m["to"], m["body"]) for m in sim.sent(phone=phone)]


def test_default_roles_aliases_pairing_and_bad_inputs(daemon: Daemon, sim: RunningSimulator) -> None:
    d = daemon
    assert d.wait_state("default", "SCAN_QR_CODE")["desired"] == "running"  # created at boot
    for session_id in ("r1", "r2", "idle"):
        d.client.post("/api/sessions", {"id": session_id})
    d.client.post("/api/sessions", {"id": "off", "start": False})
    for session_id, phone in (("default", PHONE_A), ("r1", PHONE_B), ("r2", PHONE_C)):
        login(d, sim, session_id, phone)
    d.wait_state("idle", "SCAN_QR_CODE")

    # Wrong state, unknown session, no QR on offer: each says which.
    text = {"to": CONTACT, "text": "hi"}
    assert refused(d, "POST", "/api/sessions/idle/messages", text) == (
        409, "session 'idle' is SCAN_QR_CODE; sends are queued while it is WORKING or STARTING")
    assert refused(d, "POST", "/api/sessions/off/messages", text)[0] == 409
    assert refused(d, "POST", "/api/sessions/ghost/messages", text) == (404, "session 'ghost' does not exist")
    assert refused(d, "GET", "/api/sessions/r1/qr") == (
        404, "session 'r1' offers no QR code: it is WORKING (already logged in)")
    assert refused(d, "GET", "/api/sessions/off/qr?format=raw")[1].endswith("STOPPED (start it first)")
    assert refused(d, "GET", "/api/sessions/ghost/qr")[0] == 404
    assert refused(d, "POST", "/api/sessions/r1/pairing-code", {"phone": PHONE_D})[0] == 409
    assert refused(d, "POST", "/api/sessions/idle/logout", {}) == (
        409, "session 'idle' is SCAN_QR_CODE; logout needs it WORKING")

    # Bad numbers and texts: 400, and nothing is sent.
    for body, why in (({"to": "+12", "text": "x"}, "is not a phone number"),
                      ({"to": "abc@c.us", "text": "x"}, "is not a chat id"),
                      ({"to": CONTACT, "text": ""}, "must not be empty"),
                      ({"to": CONTACT, "text": "x" * 51}, "at most 50"),
                      ({"text": "x"}, "'to' is required"),
                      ({"to": CONTACT, "text": "x", "cc": "y"}, "unknown field")):
        status, message = refused(d, "POST", "/api/sessions/r1/messages", body)
        assert status == 400 and why in message, message
    assert refused(d, "POST", "/api/send", {"to": CONTACT, "text": "x", "role": "a", "sessionId": "r1"})[0] == 400
    assert sim.sent(phone=PHONE_B) == []

    # Pairing code instead of a QR scan.
    assert refused(d, "POST", "/api/sessions/idle/pairing-code", {"phone": "12"})[0] == 400
    code = d.client.post("/api/sessions/idle/pairing-code", {"phone": f"+{PHONE_D}"})
    assert len(code["code"]) == 8 and code["display"] == f"{code['code'][:4]}-{code['code'][4:]}"
    sim.pairing_code(code["display"], phone=PHONE_D)
    assert d.wait_state("idle", "WORKING")["phone_number"] == PHONE_D

    # Roles: round-robin over the WORKING sessions of the role; every change is an event.
    for body, status in (({"sessions": ["r1", "ghost"]}, 400), ({"sessions": "r1"}, 400), ({}, 400)):
        assert refused(d, "PUT", "/api/roles/sales", body)[0] == status
    assert refused(d, "PUT", "/api/roles/bad%20name", {"sessions": []})[0] == 400
    role = d.client.request("PUT", "/api/roles/sales", {"sessions": ["r1", "r2"]})
    assert role == {"role": "sales", "sessions": ["r1", "r2"], "working": ["r1", "r2"]}
    updated = wait_event(d, lambda e: True, "role.updated")
    assert updated[-1]["payload"] == {"role": "sales", "sessions": ["r1", "r2"], "previous": []}
    picked = [d.client.post("/api/send", {"role": "sales", "to": CONTACT, "text": f"rr {i}"})["session"]
              for i in range(4)]
    assert picked == ["r1", "r2", "r1", "r2"]
    assert sent_to(sim, PHONE_B) == [(f"{CONTACT}@c.us", "rr 0"), (f"{CONTACT}@c.us", "rr 2")]
    assert sent_to(sim, PHONE_C) == [(f"{CONTACT}@c.us", "rr 1"), (f"{CONTACT}@c.us", "rr 3")]
    d.client.post("/api/sessions/r2/stop")
    assert [d.client.post("/api/send", {"role": "sales", "to": CONTACT, "text": "x"})["session"]
            for _ in range(2)] == ["r1", "r1"]
    assert d.client.get("/api/roles")["roles"] == [{"role": "sales", "sessions": ["r1", "r2"], "working": ["r1"]}]
    d.client.post("/api/sessions/r1/stop")
    assert refused(d, "POST", "/api/send", {"role": "sales", "to": CONTACT, "text": "x"}) == (
        409, "no session of role 'sales' is WORKING (r1 STOPPED, r2 STOPPED)")
    assert refused(d, "POST", "/api/send", {"role": "nobody", "to": CONTACT, "text": "x"})[0] == 404

    # The default session, and the seeds' routes.
    assert d.client.post("/api/send", {"to": "+55 11 99999-9999", "text": "default"})["session"] == "default"
    hook = d.client.post("/webhook/test", {"phoneNumber": CONTACT, "message": "hook"})
    assert hook["success"] is True and hook["session"] == "default"
    assert d.client.post("/webhook/test", {"phoneNumber": CONTACT, "message": "named",
                                           "sessionId": "idle"})["session"] == "idle"
    for path in ("/sessions/default/send", "/api/sessions/default/send-message"):
        reply = d.client.post(path, {"phoneNumber": "5511999999999@c.us", "message": path})
        assert reply["success"] is True and reply["id"]
    assert sent_to(sim, PHONE_A) == [(f"{CONTACT}@c.us", body) for body in (
        "default", "hook", "/sessions/default/send", "/api/sessions/default/send-message")]
    assert sent_to(sim, PHONE_D) == [(f"{CONTACT}@c.us", "named")]

    # The CLI: send, then a session created with --wait shows its QR and returns once WORKING.
    sent = cli(d, "send", "idle", "+55 11 99999-9999", "from the cli", "--json")
    assert sent.returncode == 0, sent.stderr
    assert sent_to(sim, PHONE_D)[-1] == (f"{CONTACT}@c.us", "from the cli")
    progress = d.workdir / "create-wait.err"
    with progress.open("w") as err_file:
        creating = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "--config", str(d.config_path), "create", "cli",
             "--wait"], stdout=subprocess.PIPE, stderr=err_file, text=True, env=dict(os.environ))
    try:
        wait_until(lambda: "scan this" in progress.read_text(), timeout=30,
                   message="the CLI to show a QR code")
        raw = d.client.get("/api/sessions/cli/qr?format=raw")["value"]
        assert render_qr(raw) in progress.read_text()  # the one on offer (they last 20 s here)
        shown = cli(d, "qr", "cli")
        assert shown.returncode == 0 and shown.stdout == render_qr(raw) + "\n"
        sim.scan(qr=raw, phone="244929782406")
        out, _ = creating.communicate(timeout=60)
    finally:
        if creating.poll() is None:
            creating.kill()
            creating.wait()
    assert creating.returncode == 0, progress.read_text()
    assert "logged in as +244929782406" in progress.read_text()
    assert "WORKING" in out

    # Logout through the API: event, then the profile goes; the others stay.
    assert d.client.post("/api/sessions/default/logout") == {
        "id": "default", "logged_out": True, "profile_cleanup": True}
    logout = wait_event(d, lambda e: True, "session.logout", session="default")
    assert logout[-1]["payload"] == {"origin": "api", "phone_number": PHONE_A}
    profile = Path(d.session("default")["profile_dir"])
    wait_until(lambda: not profile.exists(), timeout=20, message="default's profile deleted")
    assert d.session("default")["state"] == "STOPPED"
    assert refused(d, "POST", "/api/send", {"to": CONTACT, "text": "x"}) == (
        409, "session 'default' is STOPPED; sends are queued while it is WORKING or STARTING")
    assert d.session("idle")["state"] == "WORKING" and d.session("cli")["state"] == "WORKING"
