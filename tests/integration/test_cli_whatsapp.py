"""Recovering a session from the terminal, as a new user does it: ``create`` of one that exists
says to ``start`` it; ``start --wait`` and ``qr --follow`` show each QR code until it is
scanned; ``events --events message.*`` and a webhook filtered ``message.*`` both get the
incoming ``message`` itself; a logout from the phone goes WORKING -> STOPPING -> STOPPED and
``status`` says why. Real daemon, workers, Chrome and CLI processes, the simulator as WhatsApp.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import zapvisor
from tests.support.cli import Follower
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.receiver import Receiver
from tests.support.wa import (
    CONTACT,
    PHONE_A,
    fast_simulator,
    scan_offered,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with fast_simulator(ref_ttl_s=1.0) as running:  # a new QR code every second
        yield running


@pytest.fixture
def daemon(workdir: Path, free_port: int, sim: RunningSimulator) -> Iterator[Daemon]:
    d = wa_daemon(workdir, free_port, sim, whatsapp={"qr_max_refreshes": 60},
                  webhooks={"allow_private_networks": True})  # the receiver is on 127.0.0.1
    with serving(d):
        yield d


def test_recover_follow_qr_filter_messages_and_logout(daemon: Daemon, sim: RunningSimulator) -> None:
    d, cfg = daemon, daemon.config_path
    assert zapvisor("create", "demo", "--no-start", config=cfg).returncode == 0
    again = zapvisor("create", "demo", config=cfg)
    assert again.returncode == 1 and "start it with `zapvisor start demo --wait`" in again.stderr
    with Receiver() as rx:
        d.client.request("PUT", "/api/sessions/demo/webhooks",
                         {"webhooks": [{"url": rx.url(), "events": ["message.*"]}]})
        before = d.client.get("/api/stats")["events"]["last_id"]
        with Follower(cfg, "start", "demo", "--wait", "--json") as starting:
            wait_until(lambda: "scan this" in starting.stderr(), timeout=30, message="start's QR code")
            with Follower(cfg, "qr", "demo", "--follow", "--json") as qrs:
                wait_until(lambda: len(qrs.lines()) >= 2, timeout=30, message="two QR codes in turn")
                scan_offered(d, sim, "demo", PHONE_A)
                assert starting.wait(60) == 0 and qrs.wait(60) == 0
        info = json.loads("\n".join(starting.lines()))
        assert (info["state"], info["phone_number"]) == ("WORKING", PHONE_A)
        assert f"demo: logged in as +{PHONE_A}" in starting.stderr()
        *shown, last = [json.loads(line) for line in qrs.lines()]
        assert last["state"] == "WORKING"
        offered = [e["payload"]["qr"] for e in wait_event(
            d, lambda e: e["payload"].get("state") == "WORKING", "session.qr,session.status",
            after=before, session="demo")
            if e["event"] == "session.qr"]
        values = [q["value"] for q in shown]
        assert len(set(values)) == len(values) >= 2 and set(values) <= set(offered)

        # message.* selects message itself: on the event stream and for a webhook.
        after = d.client.get("/api/stats")["events"]["last_id"]
        with Follower(cfg, "events", "demo", "--events", "message.*", "--json", "--after", str(after)) as events:
            sim.incoming(f"{CONTACT}@c.us", "hello there", phone=PHONE_A)
            sent = zapvisor("send", "demo", CONTACT, "hi back", "--json", config=cfg)
            assert sent.returncode == 0, sent.stderr

            def names() -> list[str]:
                return [json.loads(line)["event"] for line in events.lines()]

            wait_until(lambda: {"message", "message.sent"} <= set(names()), timeout=30,
                       message="the message and the send")
            wait_until(lambda: {"message", "message.sent"} <= {r.event["event"] for r in rx.accepted()},
                       timeout=30, message="both at the webhook")
            assert events.interrupt() == 130
        assert {n.split(".")[0] for n in names()} == {"message"}  # nothing but the family
        incoming = next(json.loads(line) for line in events.lines() if json.loads(line)["event"] == "message")
        assert incoming["payload"]["body"] == "hello there"
        assert {r.event["event"].split(".")[0] for r in rx.accepted()} == {"message"}

    # A logout from the phone stops the session: WORKING -> STOPPING -> STOPPED, and says why.
    mark = d.client.get("/api/stats")["events"]["last_id"]
    sim.logout(phone=PHONE_A)
    changes = [e["payload"] for e in wait_event(d, lambda e: e["payload"].get("state") == "STOPPED",
                                                "session.status", after=mark, session="demo")]
    assert [(c["old"], c["state"], c["reason"]) for c in changes] == [
        ("WORKING", "STOPPING", "logged out (phone)"), ("STOPPING", "STOPPED", "logged out (phone)")]
    status = zapvisor("status", "demo", config=cfg)
    assert "state         STOPPED (logged out (phone))" in status.stdout.splitlines()
    stopped = zapvisor("qr", "demo", "--follow", config=cfg)
    assert stopped.returncode == 1
    assert stopped.stderr.strip() == "zapvisor: error: session 'demo' is STOPPED: logged out (phone)"
    wait_until(lambda: "logged out" in str(d.session("demo")["last_exit"]), timeout=20,
               message="the profile deleted")
