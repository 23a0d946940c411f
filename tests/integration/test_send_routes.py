"""Every send route goes through its session's queue, and the queue tells about itself: each of
zapvisor's send routes and each of the replaced systems' (zapnode, WhatsappSessionManager) is
queued (a queue id, listed, limited like the others), and a send's life shows in the events
(queued, sent, failed with WhatsApp's reason, cancelled), in /metrics and in the session
objects the dashboard draws its queue from. Real daemon, worker, Chrome and SQLite; the
simulator plays WhatsApp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon
from tests.support.media import b64, download, sample
from tests.support.procs import wait_until
from tests.support.wa import (
    CHAT,
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


#: (route, body) for every route that sends, the replaced systems' with their own field names.
ROUTES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("/api/sessions/a/messages", {"to": CHAT, "text": "by messages"}),
    ("/api/sessions/a/media", {"to": CHAT, "data": b64(sample("document")), "filename": "a.pdf"}),
    ("/api/send", {"session": "a", "to": CHAT, "text": "by /api/send"}),
    ("/sessions/a/send", {"phoneNumber": CONTACT, "message": "by zapnode"}),
    ("/webhook/test", {"sessionId": "a", "phoneNumber": CONTACT, "message": "by zapnode's test"}),
    ("/api/sessions/a/send-message", {"phoneNumber": CONTACT, "message": "by WhatsappSessionManager"}),
)


def _depth_series(d: Daemon) -> list[str]:
    status, _, text = download(d, "/metrics")
    assert status == 200
    return [line for line in text.decode().splitlines()
            if line.startswith(("zapvisor_send_queue_depth{", "zapvisor_send_queue_oldest_seconds{"))]


def test_every_send_route_goes_through_the_queue(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)

        # Each route stores its send in the queue and answers at once with its queue id.
        queued = []
        for route, body in ROUTES:
            status, _, answer = d.call("POST", f"{route}?wait=false", body)
            assert status == 202 and answer["status"] == "queued", (route, answer)
            assert answer["status_url"] == f"/api/sessions/a/queue/{answer['queue_id']}"
            queued.append(answer["queue_id"])
        assert len(set(queued)) == len(ROUTES)
        wait_until(lambda: d.client.get("/api/sessions/a")["queue_depth"] == 0, timeout=60,
                   message="every route's send sent")

        # The queue sent each, once, and the ids it stored are WhatsApp's.
        entries = {e["queue_id"]: e for e in d.client.get("/api/sessions/a/queue?status=sent")["entries"]}
        assert sorted(entries) == sorted(queued)
        on_whatsapp = {m["id"]: m for m in sim.sent(phone=PHONE_A)}
        assert len(on_whatsapp) == len(ROUTES)
        assert all(entries[q]["id"] in on_whatsapp and on_whatsapp[entries[q]["id"]]["copies"] == 1
                   for q in queued)

        # Every route is held by the session's limits: at the limit, each one is refused alike.
        status, _, body = d.call("PATCH", "/api/sessions/a", {"sending": {"per_minute": len(ROUTES)}})
        assert status == 200, body
        for route, body in ROUTES:
            status, headers, answer = d.call("POST", f"{route}?over_limit=reject", body)
            assert status == 429 and answer["error"]["limit"] == "per_minute", (route, answer)
            assert 1 <= int(headers["Retry-After"]) <= 60
        assert len(sim.sent(phone=PHONE_A)) == len(ROUTES)


def test_queue_events_metrics_and_the_sessions_queue_depth(workdir: Path, free_port: int) -> None:
    with fast_simulator(ref_ttl_s=20.0, build="2026") as sim:  # it knows who is not on WhatsApp
        sim.config(not_on_whatsapp=[NOBODY])
        d = wa_daemon(workdir, free_port, sim, sending={"per_day": 1})
        with serving(d):
            d.client.post("/api/sessions", {"id": "a"})
            login(d, sim, "a", PHONE_A)

            # Refused by WhatsApp: the request gets the error, message.failed says why.
            status, _, refused = d.call("POST", "/api/sessions/a/messages", {"to": NOBODY, "text": "hello?"})
            assert status == 422 and refused["error"]["type"] == "NotOnWhatsApp", refused
            events = wait_event(d, lambda e: e["event"] == "message.failed",
                                "message.queued,message.failed", session="a")
            queued, failed = events[-2]["payload"], events[-1]["payload"]
            assert queued == {"queue_id": failed["queue_id"], "to": f"{NOBODY}@c.us", "kind": "text"}
            assert failed["error"]["type"] == "NotOnWhatsApp" and NOBODY in failed["error"]["message"]
            assert d.client.get(f"/api/sessions/a/queue/{failed['queue_id']}")["status"] == "failed"

            # Sent: message.sent names its queue entry.
            status, _, sent = d.call("POST", "/api/sessions/a/messages", {"to": CHAT, "text": "the day's one"})
            assert status == 201, sent
            wait_event(d, lambda e: e["payload"].get("queue_id") == sent["queue_id"]
                       and e["payload"].get("id") == sent["id"], "message.sent", session="a")

            # Held by the day's limit: counted in /metrics and in the session objects (the
            # dashboard's sessions table and session page show this depth), until cancelled.
            assert _depth_series(d) == []
            status, _, held = d.call("POST", "/api/sessions/a/messages?wait=false",
                                     {"to": CHAT, "text": "tomorrow"})
            assert status == 202
            wait_until(lambda: d.client.get(held["status_url"])["held_by"] == "per_day", timeout=10)
            series = _depth_series(d)
            assert 'zapvisor_send_queue_depth{session="a"} 1.0' in series, series
            assert any(s.startswith('zapvisor_send_queue_oldest_seconds{session="a"}') for s in series)
            assert d.client.get("/api/sessions/a")["queue_depth"] == 1
            assert [s["queue_depth"] for s in d.client.get("/api/sessions")["sessions"]] == [1]
            d.client.delete(held["status_url"])
            cancelled = wait_event(d, lambda e: e["event"] == "message.cancelled", "message.cancelled",
                                   session="a")
            assert cancelled[-1]["payload"] == {"queue_id": held["queue_id"], "to": CHAT, "kind": "text"}
            assert _depth_series(d) == [] and d.client.get("/api/sessions/a")["queue_depth"] == 0
            assert "tomorrow" not in [m["body"] for m in sim.sent(phone=PHONE_A)]
