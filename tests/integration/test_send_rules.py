"""What the send queue lets through and when: Idempotency-Key, each limit (the send waits in
the queue, or is refused with 429, Retry-After and the limit's name), first contacts, the
warm-up, cancel, per-session overrides, and the human pacing (reads, typing, recording before
each send) checked by order on the simulator's record, never by the clock."""

from __future__ import annotations

import math
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon
from tests.support.media import b64, download, sample
from tests.support.procs import wait_until
from tests.support.wa import (
    CONTACT,
    PHONE_A,
    PHONE_B,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome

CHAT, OTHER, THIRD = f"{CONTACT}@c.us", "5511988888888@c.us", "5511977777777@c.us"


def _send(d: Daemon, to: str, text: str, query: str = "", key: str | None = None) -> tuple[int, dict[str, str], Any]:
    headers = {"Idempotency-Key": key} if key else {}
    return d.call("POST", f"/api/sessions/a/messages{query}", {"to": to, "text": text}, headers)


def _limits(d: Daemon, **sending: Any) -> None:
    status, _, body = d.call("PATCH", "/api/sessions/a", {"sending": sending})
    assert status == 200, body


def _texts(sim: RunningSimulator) -> list[str]:
    return [str(m["body"]) for m in sim.sent(phone=PHONE_A)]


def _refused_by(d: Daemon, limit: str, cap: int, window_s: float, to: str = CHAT) -> None:
    """A send over ``limit`` (``cap`` sends per ``window_s``) is refused with 429, the limit's
    name, and a Retry-After that is when the window frees a place: when the oldest of its
    newest ``cap`` sends (their sent_at, as the queue lists them) leaves it."""
    before = time.time()
    status, headers, body = _send(d, to, f"over {limit}", query="?over_limit=reject")
    after = time.time()
    assert status == 429 and body["error"]["limit"] == limit, body
    sent = sorted((e["sent_at"] for e in d.client.get("/api/sessions/a/queue?status=sent&limit=1000")["entries"]
                   if e["sent_at"] > before - window_s), reverse=True)
    frees = sent[cap - 1] + window_s
    low, high = max(1, math.floor(frees - after)), max(1, math.ceil(frees - before))
    assert low <= int(headers["Retry-After"]) <= high, (headers["Retry-After"], low, high)


def _sent_count(d: Daemon) -> int:
    return len(d.client.get("/api/sessions/a/queue?status=sent&limit=1000")["entries"])


def test_idempotency_limits_and_cancel(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)

        # A client retrying with its key gets the first send, never a second message.
        first = _send(d, CHAT, "once", key="order-17")
        again = _send(d, CHAT, "once", key="order-17")
        assert first[0] == again[0] == 201 and first[2]["id"] == again[2]["id"], (first, again)
        assert _texts(sim).count("once") == 1
        status, _, body = _send(d, CHAT, "something else", key="order-17")
        assert status == 409 and "Idempotency-Key" in body["error"]["message"]
        assert _send(d, CHAT, "x", key="bad key")[0] == 400  # a space: not a token

        # Over a limit, refused: 429 names the limit and says when to come back.
        _limits(d, per_minute=2)
        assert _send(d, OTHER, "second")[0] == 201
        _refused_by(d, "per_minute", 2, 60, OTHER)
        # ... or held in the queue (the default): 202, held by that limit, cancellable.
        status, _, held = _send(d, OTHER, "held")
        assert status == 202 and held["status"] == "queued", held
        wait_until(lambda: d.client.get(held["status_url"])["held_by"] == "per_minute", timeout=10)
        cancelled = d.call("DELETE", held["status_url"])
        assert cancelled[0] == 200 and cancelled[2]["status"] == "cancelled"
        assert d.call("DELETE", held["status_url"])[0] == 409  # only a queued send
        assert "held" not in _texts(sim) and "third" not in _texts(sim)

        # Per recipient: one chat waits, the others go; first contacts; the warm-up.
        _limits(d, per_minute=0, per_recipient_hour=1)
        status, _, waiting = _send(d, OTHER, "to other again", query="?wait=false")
        assert status == 202
        assert _send(d, THIRD, "to a third chat")[0] == 201  # not held behind OTHER's
        wait_until(lambda: d.client.get(waiting["status_url"])["held_by"] == "per_recipient_hour", timeout=10)
        d.call("DELETE", waiting["status_url"])
        _limits(d, per_recipient_hour=0, new_contacts_day=3)  # CHAT, OTHER, THIRD: 3 begun today
        status, _, body = _send(d, "5511966666666", "a stranger", query="?over_limit=reject")
        assert status == 429 and body["error"]["limit"] == "new_contacts_day"
        sim.incoming("5511955555555@c.us", "hello, it's me", phone=PHONE_A)
        wait_event(d, lambda e: e["event"] == "message" and e["payload"].get("body") == "hello, it's me")
        assert _send(d, "5511955555555", "hi, you wrote first", query="?over_limit=reject")[0] == 201
        sent = _sent_count(d)
        _limits(d, per_hour=sent)
        _refused_by(d, "per_hour", sent, 3600)
        _limits(d, per_day=sent)
        _refused_by(d, "per_day", sent, 86400)
        _limits(d, warmup=[[0, 1], [30, 0]], per_day=0)  # a number on its first day: 1 a day
        _refused_by(d, "warmup", 1, 86400)
        assert not [t for t in _texts(sim) if t.startswith("over ")]

        # Every step above was counted and listed.
        listing = d.client.get("/api/sessions/a/queue?status=sent,cancelled")
        assert {e["status"] for e in listing["entries"]} == {"sent", "cancelled"}
        assert listing["policy"]["warmup_cap"] == 1
        assert d.call("GET", "/api/sessions/a/queue?status=lost")[0] == 400
        assert d.call("GET", "/api/sessions/a/queue/99999")[0] == 404
        assert d.call("PATCH", "/api/sessions/a", {"sending": {"per_minute": -1}})[0] == 400
        status, _, text = download(d, "/metrics")
        assert status == 200 and b"zapvisor_send_wait_seconds_count" in text
        assert b'zapvisor_send_queue_depth{session="a"}' not in text  # nothing open: no series


def _first_login(d: Daemon, session_id: str) -> tuple[str | None, float | None]:
    """The session's number and the date its warm-up counts from, as the daemon stored them."""
    with closing(sqlite3.connect(f"file:{d.state_dir / 'zapvisor.db'}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT phone_number, first_login_at FROM sessions WHERE id = ?",
                         (session_id,)).fetchone()
    return row[0], row[1]


def test_a_different_number_linked_to_the_session_starts_its_own_warmup(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    """The warm-up counts the days since the account's first login: a session logged out from
    the phone and linked to another number starts that number's warm-up; the same number
    linking again keeps its date."""
    d = wa_daemon(workdir, free_port, sim)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        linked = PHONE_A
        login(d, sim, "a", linked)
        wait_until(lambda: _first_login(d, "a")[0] == PHONE_A, timeout=10, message="A's login stored")
        first_a = _first_login(d, "a")[1]
        assert first_a is not None

        def relink(phone: str) -> tuple[str | None, float | None]:
            nonlocal linked
            before = _first_login(d, "a")[1]
            sim.logout(phone=linked)
            d.wait_state("a", "STOPPED")
            wait_until(lambda: "logged out" in str(d.session("a")["last_exit"]), timeout=20,
                       message="the profile deleted after the logout")
            assert _first_login(d, "a") == (None, before)  # the number goes; its date stays
            d.client.post("/api/sessions/a/start")
            login(d, sim, "a", phone)
            linked = phone
            wait_until(lambda: _first_login(d, "a")[0] == phone, timeout=10, message="the login stored")
            return _first_login(d, "a")

        first_b = relink(PHONE_B)[1]
        assert first_b is not None and first_b > first_a  # B's own warm-up, from its first login
        assert d.client.get("/api/sessions/a/queue")["policy"]["warmup_day"] == 0
        assert relink(PHONE_B) == (PHONE_B, first_b)  # B again: the same age


def test_pacing_reads_types_and_records_before_each_send(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    sending = {"mark_read": True, "typing": True, "typing_chars_per_s": 50.0, "typing_max_s": 0.4,
               "recording": True, "recording_min_s": 0.2, "recording_max_s": 0.3,
               "delay_min_s": 0.2, "delay_max_s": 0.3}
    d = wa_daemon(workdir, free_port, sim, sending=sending)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)

        def answer(asked: str, reply: str) -> None:
            """The contact asks; the session answers with a text, then a voice note."""
            sim.incoming(CHAT, asked, phone=PHONE_A)
            wait_event(d, lambda e: e["event"] == "message" and e["payload"].get("body") == asked)
            assert _send(d, CHAT, reply)[0] == 201
            status, _, body = d.call("POST", "/api/sessions/a/media", {
                "to": CHAT, "voice": True, "data": b64(sample("ptt"))})
            assert status == 201, body

        answer("are you there?", "yes, here I am")
        # On the server's one timeline: seen, typing, the text; recording, the voice note.
        timeline = sorted([(a["at"], a["kind"], a.get("state")) for a in sim.activity(phone=PHONE_A)]
                          + [(m["at"], "sent", m["type"]) for m in sim.sent(phone=PHONE_A)])
        steps = [(kind, what) for _at, kind, what in timeline if kind in ("seen", "chatstate", "sent")
                 and what != "paused"]
        assert steps == [("seen", None), ("chatstate", "composing"), ("sent", "chat"),
                         ("chatstate", "recording"), ("sent", "ptt")], steps
        # The random pause between two sends is never shorter than delay_min_s (a floor the
        # queue keeps, whatever the machine's speed: slower only widens it).
        sent_at = [at for at, kind, _what in timeline if kind == "sent"]
        assert sent_at[1] - sent_at[0] >= sending["delay_min_s"], sent_at

        # Each part turned off for this session alone: no read, no typing, no recording.
        _limits(d, mark_read=False, typing=False, recording=False, delay_min_s=0.0, delay_max_s=0.0)
        shown = len(sim.activity(phone=PHONE_A))
        answer("still there?", "still here")
        assert [m["type"] for m in sim.sent(phone=PHONE_A)] == ["chat", "ptt", "chat", "ptt"]
        later = [(a["kind"], a.get("state")) for a in sim.activity(phone=PHONE_A)[shown:]]
        assert [step for step in later if step[0] in ("seen", "chatstate") and step[1] != "paused"] == [], later

