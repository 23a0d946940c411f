"""Webhooks end to end: a real daemon, a real receiver that refuses then recovers, retries,
give-up and manual retry, per-session webhooks, signatures, and a ``kill -9`` with a backlog.

Sessions are created stopped (no Chrome): creating and deleting them emits ``session.created``
and ``session.deleted``, which is all these tests need.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from supervisor.errors import Conflict, InvalidRequest, NotFound
from tests.support.daemon import API_KEY, Daemon
from tests.support.procs import wait_until
from tests.support.receiver import Received, Receiver

SECRET = "s3cret-for-tests"
# The receiver runs on 127.0.0.1: a private address, refused unless allowed (SSRF).
FAST_RETRY = {"retry_initial_s": 0.05, "retry_max_s": 0.3, "timeout_s": 2.0, "allow_private_networks": True}


def make_daemon(workdir: Path, port: int, **webhooks: Any) -> Daemon:
    return Daemon(workdir, port, "http://127.0.0.1:9/", webhooks={**FAST_RETRY, **webhooks})


def churn(d: Daemon, ids: list[str], rounds: int) -> dict[str, list[str]]:
    """Create and delete stopped sessions; the events each session must have produced."""
    expected: dict[str, list[str]] = {s: [] for s in ids}
    for _ in range(rounds):
        for s in ids:
            d.client.post("/api/sessions", {"id": s, "start": False})
            expected[s].append("session.created")
        for s in ids:
            d.client.delete(f"/api/sessions/{s}")
            expected[s].append("session.deleted")
    return expected


def by_session(received: list[Received]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in received:
        grouped.setdefault(r.event["session"], []).append(r.event)
    return grouped


def hmac_hex(secret: str, timestamp: str, body: bytes) -> str:
    """Computed here, independently of supervisor.delivery."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


def test_refusing_receiver_then_recovering_gets_every_event_once_in_order(
        workdir: Path, free_port: int, rx: Receiver) -> None:
    rx.set_status(503)
    d = make_daemon(workdir, free_port, url=rx.url(), secret=SECRET).start()
    try:
        expected = churn(d, ["a", "b", "c"], rounds=3)
        wait_until(lambda: sum(r.status == 503 for r in rx.requests()) >= 6, timeout=20,
                   message="refused attempts")
        pending = d.client.get("/api/webhooks/deliveries?status=pending")
        assert pending["counts"]["pending"] == 18 and pending["deliveries"][0]["attempts"] >= 0
        rx.set_status(200)
        wait_until(lambda: len(rx.accepted()) >= 18, timeout=30, message="all 18 delivered")
        accepted = rx.accepted()
        ids = [r.event["id"] for r in accepted]
        assert len(ids) == len(set(ids)) == 18  # once per id
        grouped = by_session(accepted)
        for session, names in expected.items():
            events = grouped[session]
            assert [e["event"] for e in events] == names
            assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # in order
        retried = [r for r in accepted if int(r.headers["X-Zapvisor-Attempt"]) > 1]
        assert retried, "the refused ones were retried"
        for r in accepted:
            event = r.event
            assert set(event) == {"id", "event", "session", "timestamp", "payload"}
            assert r.headers["X-Zapvisor-Event-Id"] == str(event["id"])
            assert r.headers["X-Zapvisor-Event"] == event["event"]
            ts, signature = r.headers["X-Zapvisor-Timestamp"], r.headers["X-Zapvisor-Signature"]
            assert signature == hmac_hex(SECRET, ts, r.body)
            assert signature != hmac_hex("another-secret", ts, r.body)
            assert API_KEY not in r.body.decode() and API_KEY not in str(r.headers)
        wait_until(lambda: d.client.get("/api/webhooks")["deliveries"]["pending"] == 0,
                   timeout=10, message="outbox drained")
    finally:
        assert d.stop() == 0


def test_4xx_fails_at_once_and_a_retry_requeues_it(workdir: Path, free_port: int,
                                                    rx: Receiver) -> None:
    rx.set_status(400)
    d = make_daemon(workdir, free_port, url=rx.url(), events=["session.created"]).start()
    try:
        d.client.post("/api/sessions", {"id": "a", "start": False})
        wait_until(lambda: d.client.get("/api/webhooks/deliveries?status=failed")["deliveries"],
                   timeout=20, message="a failed delivery")
        failed = d.client.get("/api/webhooks/deliveries?status=failed")["deliveries"]
        assert len(failed) == 1 and len(rx.requests()) == 1  # no retry after a 400
        first = failed[0]
        assert first["attempts"] == 1 and first["last_status"] == 400
        assert first["event"] == "session.created" and "HTTP 400" in first["last_error"]
        assert "secret" not in first
        rx.set_status(429, {"Retry-After": "0"})  # too many requests: retried, not failed
        requeued = d.client.post(f"/api/webhooks/deliveries/{first['id']}/retry")
        assert requeued["status"] == "pending" and requeued["attempts"] == 0
        wait_until(lambda: len(rx.requests()) >= 3, timeout=20, message="429s retried")
        rx.set_status(200)
        wait_until(lambda: rx.accepted(), timeout=20, message="delivered after the retry")
        done = d.client.get(f"/api/webhooks/deliveries/{first['id']}")
        assert done["status"] == "delivered" and done["attempts"] >= 3
        assert done["payload"] == {"start": False}
        with pytest.raises(Conflict):
            d.client.post(f"/api/webhooks/deliveries/{first['id']}/retry")
        with pytest.raises(NotFound):
            d.client.post("/api/webhooks/deliveries/99999/retry")
        with pytest.raises(InvalidRequest):
            d.client.get("/api/webhooks/deliveries?status=lost")
    finally:
        assert d.stop() == 0


def test_a_hanging_receiver_times_out_and_is_retried(workdir: Path, free_port: int,
                                                     rx: Receiver) -> None:
    rx.set_delay(3.0)
    d = make_daemon(workdir, free_port, url=rx.url(), timeout_s=0.3).start()
    try:
        d.client.post("/api/sessions", {"id": "a", "start": False})

        def timed_out() -> bool:
            pending = d.client.get("/api/webhooks/deliveries?status=pending")["deliveries"]
            return bool(pending) and "no answer within 0.3s" in (pending[0]["last_error"] or "")

        wait_until(timed_out, timeout=20, message="a timed-out attempt")
        rx.set_delay(0)
        wait_until(lambda: rx.accepted() and rx.accepted()[-1].headers["X-Zapvisor-Attempt"] != "1",
                   timeout=20, message="delivered on a later attempt")
    finally:
        assert d.stop() == 0


def test_per_session_webhooks_on_create_and_update(workdir: Path, free_port: int,
                                                   rx: Receiver) -> None:
    d = make_daemon(workdir, free_port).start()  # no global webhook
    try:
        hooks = [{"url": rx.url("/a"), "events": ["session.created", "session.deleted"],
                  "secret": "k1"}]
        created = d.client.post("/api/sessions", {"id": "a", "start": False, "webhooks": hooks})
        assert created["id"] == "a"
        d.client.post("/api/sessions", {"id": "b", "start": False})
        wait_until(lambda: rx.accepted(), timeout=20, message="session a's first event")
        first = rx.accepted()[0]
        assert first.path == "/a" and first.event["event"] == "session.created"
        assert first.headers["X-Zapvisor-Signature"] == hmac_hex(
            "k1", first.headers["X-Zapvisor-Timestamp"], first.body)
        listed = d.client.get("/api/sessions/a/webhooks")
        assert listed["webhooks"] == [{"url": rx.url("/a"), "events": hooks[0]["events"],
                                       "secret_set": True}]
        updated = d.client.request("PUT", "/api/sessions/a/webhooks",
                                   {"webhooks": [{"url": rx.url("/a2"), "events": ["session.*"]}]})
        assert updated["webhooks"][0]["secret_set"] is False
        with pytest.raises(InvalidRequest):
            d.client.request("PUT", "/api/sessions/a/webhooks", {})
        d.client.delete("/api/sessions/b")
        d.client.delete("/api/sessions/a")
        wait_until(lambda: len(rx.accepted()) == 2, timeout=20, message="a's deleted event")
        last = rx.accepted()[1]
        assert (last.path, last.event["event"], last.event["session"]) == ("/a2", "session.deleted", "a")
        assert "X-Zapvisor-Signature" not in last.headers  # no secret: unsigned
        for bad in ([{"url": "ftp://x"}], [{"url": rx.url(), "events": ["Bad Name"]}],
                    [{"url": rx.url(), "extra": 1}], {"url": rx.url()}, [{"url": rx.url(),
                                                                         "secret": 5}]):
            with pytest.raises(InvalidRequest):
                d.client.post("/api/sessions", {"id": "c", "start": False, "webhooks": bad})
        with pytest.raises(NotFound):
            d.client.get("/api/sessions/c")  # a refused create creates nothing
        with pytest.raises(NotFound):
            d.client.request("PUT", "/api/sessions/x/webhooks", {"webhooks": []})
    finally:
        assert d.stop() == 0


def pending_event_ids(state_dir: Path) -> list[int]:
    db = sqlite3.connect(f"file:{state_dir / 'zapvisor.db'}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute(
            "SELECT event_id FROM deliveries WHERE status = 'pending' ORDER BY id")]
    finally:
        db.close()


def test_a_backlog_survives_kill_9_and_is_delivered_after_restart(
        workdir: Path, free_port: int, rx: Receiver) -> None:
    rx.set_status(503)
    d = make_daemon(workdir, free_port, url=rx.url(), secret=SECRET).start()
    expected = churn(d, ["a", "b"], rounds=4)
    wait_until(lambda: len(rx.requests()) >= 2, timeout=20, message="refused attempts")
    d.kill()
    backlog = pending_event_ids(d.state_dir)
    assert len(backlog) == 16
    rx.set_status(200)
    d2 = make_daemon(workdir, free_port, url=rx.url(), secret=SECRET).start()
    try:
        wait_until(lambda: {r.event["id"] for r in rx.accepted()} >= set(backlog), timeout=30,
                   message="the backlog delivered after the restart")
        accepted = rx.accepted()
        assert sorted(r.event["id"] for r in accepted) == sorted(set(backlog))  # once each
        grouped = by_session(accepted)
        assert {s: [e["event"] for e in grouped[s]] for s in expected} == expected
        for events in grouped.values():
            assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        # ids continue after the restart instead of starting again at 1
        d2.client.post("/api/sessions", {"id": "later", "start": False})
        wait_until(lambda: any(r.event["session"] == "later" for r in rx.accepted()), timeout=20,
                   message="a new event")
        later = [r.event for r in rx.accepted() if r.event["session"] == "later"][0]
        assert later["id"] > max(backlog)
        # The receiver has the request before the daemon has its answer and marks it delivered.
        wait_until(lambda: not pending_event_ids(d2.state_dir), timeout=10,
                   message="nothing left pending")
    finally:
        assert d2.stop() == 0
