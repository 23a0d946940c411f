"""The WhatsApp driver against each WhatsApp Web build the simulator models (2024 and 2026):
login by QR and by pairing code, sends to a new number, a group and a ``@lid`` chat, numbers not
on WhatsApp, ``@lid`` senders' phone numbers, media captions, no self-echo, bot sends, late
modules, a module that never comes, a slow first sync. Real daemon, workers and Chrome; the
simulator plays WhatsApp (research/whatsapp-anchors.md §10 for what changed in 2026).
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from supervisor.errors import ZapvisorError
from tests.support.daemon import API_KEY, Daemon
from tests.support.procs import wait_until
from tests.support.wa import (
    CONTACT,
    NOBODY,
    PHONE_A,
    fast_simulator,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome

GROUP = "120363000000000001@g.us"
STRANGER = "5511988887777"  # a number the session never chatted with


@pytest.fixture
def sim(sim_each_build: RunningSimulator) -> RunningSimulator:
    return sim_each_build


def build_of(sim: RunningSimulator) -> str:
    return str(sim.config()["build"])


def events(d: Daemon, name: str, session: str = "a") -> list[dict[str, Any]]:
    """Every event ``name`` of ``session`` so far (from the daemon's history, up to the latest)."""
    last = d.client.get("/api/stats")["events"]["last_id"]
    everything = wait_event(d, lambda e: e["id"] >= last)
    return [e for e in everything if e["event"] == name and e["session"] == session]


def test_sends_and_receives(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    new = build_of(sim) == "2026"
    sim.config(not_on_whatsapp=[NOBODY])
    d = wa_daemon(workdir, free_port, sim, whatsapp={"commands": ["ping"]})
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        info = login(d, sim, "a", PHONE_A)
        version = sim.config()["version"]  # the build, for the operator: info, stats, metrics
        assert info["wa_version"] == version
        assert [s["wa_version"] for s in d.client.get("/api/stats")["per_session"]] == [version]
        request = urllib.request.Request(f"http://127.0.0.1:{d.port}/metrics",
                                         headers={"X-Api-Key": API_KEY})
        with urllib.request.urlopen(request, timeout=10) as answer:
            metrics = answer.read().decode()
        assert f'zapvisor_whatsapp_web_info{{session="a",version="{version}"}} 1.0' in metrics

        # A number never chatted with: its LID is looked up first; the id returned is the one
        # WhatsApp gave the message (on the page, and in the ack that follows).
        sent = d.client.post("/api/sessions/a/messages", {"to": f"+{STRANGER}", "text": "first"})
        on_page = sim.sent(phone=PHONE_A)[-1]
        assert (on_page["id"], on_page["body"], on_page["delivered"]) == (sent["id"], "first", True)
        wait_event(d, lambda e: e["payload"] == {"id": sent["id"], "ack": 1}, "message.ack", session="a")

        # A group: in LID addressing mode (2026) we are addressed by our LID, as participant too.
        group = d.client.post("/api/sessions/a/messages", {"to": GROUP, "text": "to all"})
        record = sim.sent(phone=PHONE_A)[-1]
        assert record["id"] == group["id"] and record["delivered"], record
        assert record["participant"] == record["from"]
        assert record["from"].endswith("@lid" if new else "@c.us")

        if new:  # a chat addressed by LID, and a number that is not on WhatsApp
            lid = sim.lid(CONTACT)["lid"]
            by_lid = d.client.post("/api/sessions/a/messages", {"to": lid, "text": "by lid"})
            record = sim.sent(phone=PHONE_A)[-1]
            assert (record["id"], record["delivered"]) == (by_lid["id"], True)
            assert record["from"].endswith("@lid")
            with pytest.raises(ZapvisorError) as refused:
                d.client.post("/api/sessions/a/messages", {"to": NOBODY, "text": "hello?"})
            assert (refused.value.type, refused.value.status) == ("NotOnWhatsApp", 422)
            assert NOBODY in refused.value.message

        # Incoming: a private message (from a @lid chat in 2026) says who sent it, by number.
        hello = sim.incoming(f"{CONTACT}@c.us", "hello", phone=PHONE_A)
        got = wait_event(d, lambda e: e["payload"]["id"] == hello["id"], "message", session="a")[-1]
        assert got["payload"]["sender_phone"] == CONTACT
        assert got["payload"]["chat_id"].endswith("@lid" if new else "@c.us")
        # Media: the caption is the body, never the thumbnail.
        photo = sim.incoming(f"{CONTACT}@c.us", None, phone=PHONE_A, type="image", caption="look",
                             mimetype="image/jpeg", size=2048)
        media = wait_event(d, lambda e: e["payload"]["id"] == photo["id"], "message", session="a")[-1]
        assert {k: media["payload"][k] for k in ("body", "type", "has_media", "mimetype", "size")} == \
            {"body": "look", "type": "image", "has_media": True, "mimetype": "image/jpeg", "size": 2048}

        # The bot's answer is a send like any other: message.sent with its origin.
        sim.incoming(f"{CONTACT}@c.us", "!ping", phone=PHONE_A)
        pong = wait_event(d, lambda e: e["payload"].get("origin") == "bot", "message.sent", session="a")[-1]
        assert pong["payload"]["body"] == "pong"

        # Our own sends never come back as incoming messages.
        ours = {m["id"] for m in sim.sent(phone=PHONE_A)}
        assert not ours & {e["payload"]["id"] for e in events(d, "message")}
        assert {e["payload"]["origin"] for e in events(d, "message.sent")} == {"api", "bot"}


def test_pairing_codes_are_renewed_and_the_qr_left_alone(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    sim.config(pairing_code_ttl_s=2.0)
    d = wa_daemon(workdir, free_port, sim, whatsapp={"pairing_code_interval_s": 1.5})
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        d.wait_state("a", "SCAN_QR_CODE", timeout=30)
        first = d.client.post("/api/sessions/a/pairing-code", {"phone": PHONE_A})["code"]
        codes = wait_event(d, lambda e: e["payload"]["code"] != first, "session.pairing_code",
                           session="a")
        fresh = codes[-1]["payload"]
        assert codes[0]["payload"]["code"] == first and fresh["phone"] == PHONE_A
        assert fresh["expires_in_s"] == 1.5
        qrs_while_pairing = [e for e in events(d, "session.qr") if e["id"] > codes[0]["id"]]
        assert qrs_while_pairing == []  # no QR renewed (nor shown) while pairing by phone
        sim.pairing_code(fresh["code"], phone=PHONE_A)
        assert d.wait_state("a", "WORKING", timeout=30)["phone_number"] == PHONE_A


def test_a_module_that_never_comes_fails_the_session_with_its_name(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    version = sim.config()["version"]
    d = wa_daemon(workdir, free_port, sim, whatsapp={"ready_timeout_s": 2.0})
    with serving(d):
        # Missing before the login: no QR code can be built.
        sim.config(missing=["WAWebCmd"])
        d.client.post("/api/sessions", {"id": "early"})
        failed = d.wait_state("early", "FAILED", timeout=30)
        assert f"WhatsApp Web {version} lacks WAWebCmd.Cmd" in failed["last_error"]
        # Missing past the login: found once the account synced.
        sim.config(missing=["WAWebFindChatAction.findOrCreateLatestChat"])
        d.client.post("/api/sessions", {"id": "a"})
        d.wait_state("a", "SCAN_QR_CODE", timeout=30)
        qr = d.client.get("/api/sessions/a/qr?format=raw")["value"]
        sim.scan(qr=qr, phone=PHONE_A)
        failed = d.wait_state("a", "FAILED", timeout=30)
        assert "WAWebFindChatAction.findOrCreateLatestChat" in failed["last_error"]
        assert failed["restarts"] == 0  # exit 3: no restart loop
        told = events(d, "session.incompatible")
        assert told[-1]["payload"] == {"wa_version": version,
                                       "missing": ["WAWebFindChatAction.findOrCreateLatestChat"]}


def test_late_modules_and_a_slow_first_sync_are_waited_out(workdir: Path, free_port: int) -> None:
    # 2026 only: modules register 2 s after the page announced itself, and the first sync takes
    # 6 s, both longer than ready_timeout_s: progress keeps the session alive.
    with fast_simulator(ref_ttl_s=20.0, build="2026") as sim:
        sim.config(late_modules_ms=1500, first_sync_ms=6000, sync_steps=12)
        d = wa_daemon(workdir, free_port, sim, whatsapp={"ready_timeout_s": 2.5})
        with serving(d):
            d.client.post("/api/sessions", {"id": "a"})
            info = login(d, sim, "a", PHONE_A)
            assert info["sync_percent"] == 100
            percents = [e["payload"]["percent"] for e in events(d, "session.sync")]
            assert len(percents) >= 6 and percents == sorted(percents)
            wait_until(lambda: d.client.get("/api/sessions/a")["state"] == "WORKING", timeout=5)
