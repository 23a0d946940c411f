"""The send queue end to end: exactly once across kill -9 of the worker and of the daemon, order
per chat, Idempotency-Key, the limits (held or refused with 429), cancel, and the human pacing
seen on the simulator's record. Real daemon, workers, Chrome and SQLite; the simulator plays
WhatsApp (its ``sent`` record counts every copy of a message id it received)."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon
from tests.support.media import b64, sample
from tests.support.procs import wait_until
from tests.support.wa import CONTACT, PHONE_A, login, serving, wa_daemon, wait_event
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome

CHATS = (f"{CONTACT}@c.us", "5511988888888@c.us", "5511977777777@c.us")
#: Sends that take a moment each (typing ~0.3 s), so that a kill lands mid-queue.
SLOW = {"typing": True, "typing_chars_per_s": 40.0, "typing_jitter": 0.0, "typing_max_s": 0.3}


def _queue(d: Daemon, session: str = "a", statuses: str = "queued,sending,sent,failed,cancelled") -> list[dict[str, Any]]:
    return list(d.client.get(f"/api/sessions/{session}/queue?status={statuses}&limit=1000")["entries"])


def _submit(d: Daemon, count: int) -> list[int]:
    """``count`` sends spread over CHATS, queued without waiting; their queue ids in order."""
    ids = []
    for i in range(count):
        status, _, body = d.call("POST", "/api/sessions/a/messages?wait=false",
                                 {"to": CHATS[i % len(CHATS)], "text": f"message {i:02d} of the run"})
        assert status == 202, body
        ids.append(body["queue_id"])
    return ids


def _all_sent(d: Daemon, count: int) -> None:
    wait_until(lambda: sum(e["status"] == "sent" for e in _queue(d)) == count, timeout=90,
               message=f"{count} sends sent")


def _check_exactly_once(d: Daemon, sim: RunningSimulator, count: int) -> list[dict[str, Any]]:
    """Every queued text reached WhatsApp once (one copy of one id), in order per chat; the
    queue's entries."""
    entries = _queue(d)
    assert [e["status"] for e in entries] == ["sent"] * count, entries
    got = [m for m in sim.sent(phone=PHONE_A) if str(m.get("body", "")).startswith("message ")]
    assert len(got) == count, [m["body"] for m in got]
    assert all(m["copies"] == 1 for m in got), [(m["body"], m["copies"]) for m in got]
    assert sorted(m["body"] for m in got) == sorted(f"message {i:02d} of the run" for i in range(count))
    by_id = {e["id"]: e for e in entries}
    assert len(by_id) == count and all(m["id"] in by_id for m in got)  # the ids the queue stored
    for chat in range(len(CHATS)):
        ours = [int(m["body"].split()[1]) for m in got if int(m["body"].split()[1]) % len(CHATS) == chat]
        assert ours == sorted(ours), f"order broken in chat {chat}: {ours}"
    return entries


def _kill_when_in_flight(d: Daemon, sent_first: int) -> None:
    """Wait until ``sent_first`` sends went and one is in flight, then kill -9 the worker."""
    def in_flight() -> bool:
        entries = _queue(d)
        return (sum(e["status"] == "sent" for e in entries) >= sent_first
                and any(e["status"] == "sending" for e in entries))
    wait_until(in_flight, timeout=60, interval=0.02, message="a send in flight")
    os.kill(int(d.session("a")["worker_pid"]), signal.SIGKILL)


def test_a_worker_killed_mid_queue_sends_every_message_once_in_order(
        workdir: Path, free_port: int, sim_each_build: RunningSimulator) -> None:
    sim = sim_each_build
    d = wa_daemon(workdir, free_port, sim, sending=SLOW)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        _submit(d, 20)
        _kill_when_in_flight(d, sent_first=5)
        _all_sent(d, 20)
        entries = _check_exactly_once(d, sim, 20)
        assert any(e["attempts"] > 1 for e in entries)  # the one in flight was settled after
        assert d.session("a")["restarts"] == 1


def test_a_daemon_killed_mid_queue_resumes_and_sends_every_message_once(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim, sending=SLOW)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        _submit(d, 20)
        wait_until(lambda: any(e["status"] == "sending" for e in _queue(d))
                   and sum(e["status"] == "sent" for e in _queue(d)) >= 5,
                   timeout=60, interval=0.02, message="a send in flight")
        d.kill()
        d.start()  # the same state dir: the queue and the login survive
        d.wait_state("a", "WORKING", timeout=60)
        _all_sent(d, 20)
        _check_exactly_once(d, sim, 20)


def test_a_daemon_killed_while_a_send_is_in_flight_resends_it_under_its_stored_id(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    # One character a second: the send shows "typing" for 12 s after its id was stored and
    # before the page is asked to send it; the daemon dies in there.
    typing = {"typing": True, "typing_chars_per_s": 1.0, "typing_jitter": 0.0, "typing_max_s": 60.0}
    d = wa_daemon(workdir, free_port, sim, sending=typing)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        status, _, queued = d.call("POST", "/api/sessions/a/messages?wait=false",
                                   {"to": CHATS[0], "text": "typed slowly"})
        assert status == 202
        wait_until(lambda: any(a.get("state") == "composing"
                               for a in sim.activity(phone=PHONE_A, kind="chatstate")),
                   timeout=30, interval=0.05, message="the send typing")
        with sqlite3.connect(f"file:{d.state_dir / 'zapvisor.db'}?mode=ro", uri=True) as db:
            stored = db.execute("SELECT status, msg_id FROM sends WHERE id = ?",
                                (queued["queue_id"],)).fetchone()
        assert stored[0] == "sending" and stored[1], stored  # its id is stored before the page sends
        d.kill()
        assert not [m for m in sim.sent(phone=PHONE_A) if m["body"] == "typed slowly"]  # not sent yet

        d.start()  # the same state dir: the queue and the login survive
        d.client.patch("/api/sessions/a", {"sending": {"typing": False}})  # no second 12 s
        wait_until(lambda: d.client.get(queued["status_url"])["status"] == "sent", timeout=60,
                   message="the send settled after the restart")
        entry = d.client.get(queued["status_url"])
        got = [m for m in sim.sent(phone=PHONE_A) if m["body"] == "typed slowly"]
        assert [m["copies"] for m in got] == [1] and got[0]["id"] == entry["id"], (got, entry)
        assert stored[1] in entry["id"] and entry["attempts"] == 2, entry  # the id stored first
        resent = [e for e in d.events("send.resending") if e.get("queue_id") == queued["queue_id"]]
        assert [e["msg_id"] for e in resent] == [stored[1]]  # looked up, not found, sent again


def test_a_send_whatsapp_took_before_the_worker_died_is_never_sent_again(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        sim.config(sent_reply_delay_ms=60_000)  # delivered, but the page hears nothing back
        status, _, queued = d.call("POST", "/api/sessions/a/messages?wait=false",
                                   {"to": CHATS[0], "text": "delivered, unanswered"})
        assert status == 202
        wait_until(lambda: any(m["body"] == "delivered, unanswered" for m in sim.sent(phone=PHONE_A)),
                   timeout=30, message="the server has the message")
        assert d.client.get(queued["status_url"])["status"] == "sending"
        os.kill(int(d.session("a")["worker_pid"]), signal.SIGKILL)
        sim.config(sent_reply_delay_ms=0)
        wait_until(lambda: d.client.get(queued["status_url"])["status"] == "sent", timeout=60,
                   message="the send settled after the restart")
        entry = d.client.get(queued["status_url"])
        copies = [m["copies"] for m in sim.sent(phone=PHONE_A) if m["body"] == "delivered, unanswered"]
        assert copies == [1] and entry["attempts"] == 2, (copies, entry)
        settled = wait_event(d, lambda e: e["event"] == "message.sent"
                             and e["payload"].get("queue_id") == queued["queue_id"], session="a")
        assert settled[-1]["payload"]["reconciled"] is True and settled[-1]["payload"]["id"] == entry["id"]


def test_queued_files_outlive_a_restart_and_strays_are_swept(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim, sending={"per_day": 1})
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        assert d.call("POST", "/api/sessions/a/messages", {"to": CHATS[0], "text": "the day's one"})[0] == 201
        status, _, queued = d.call("POST", "/api/sessions/a/media?wait=false",
                                   {"to": CHATS[0], "data": b64(sample("document")), "filename": "r.pdf"})
        assert status == 202, queued
        wait_until(lambda: d.client.get(queued["status_url"])["held_by"] == "per_day", timeout=10)
        outbox = d.state_dir / "sessions" / "a" / "outbox"
        kept = list(outbox.iterdir())
        assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == "0o600"
        assert oct(outbox.stat().st_mode & 0o777) == "0o700"
        assert d.stop() == 0
        stray = outbox / "left-by-a-crash"
        stray.write_bytes(b"x")
        d.start()
        wait_until(lambda: not stray.exists(), timeout=30, message="the stray file swept at boot")
        assert kept[0].exists() and d.client.get(queued["status_url"])["status"] == "queued"
        assert d.client.delete(queued["status_url"])["status"] == "cancelled"
        assert not kept[0].exists()  # a send that ends takes its file with it
