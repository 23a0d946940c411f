"""/metrics (parsed with prometheus-client's own parser), /api/stats and ``zapvisor status``,
against a real daemon; with real Chrome for the per-session figures; and the counters' rules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from supervisor.metrics import Metrics
from tests.support.daemon import API_KEY, Daemon
from tests.support.pages import PageServer
from tests.support.procs import kill_marked, wait_until
from tests.support.receiver import Receiver

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(d: Daemon) -> Samples:
    """Every sample of GET /metrics, by (name, sorted labels)."""
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}/metrics", headers={"X-Api-Key": API_KEY})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = resp.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_need_the_key_parse_and_move_with_sessions_and_webhooks(
        workdir: Path, free_port: int) -> None:
    with Receiver(status=503) as rx:
        d = Daemon(workdir, free_port, "http://127.0.0.1:9/",
                   webhooks={"url": rx.url(), "retry_initial_s": 0.05, "retry_max_s": 0.2,
                             "allow_private_networks": True})
        d.start()
        try:
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{free_port}/metrics", timeout=10)
            assert info.value.code == 401
            before = scrape(d)
            assert value(before, "zapvisor_sessions", state="STOPPED") == 0
            for s in ("a", "b", "c"):
                d.client.post("/api/sessions", {"id": s, "start": False})
            d.client.delete("/api/sessions/c")
            after = scrape(d)
            assert value(after, "zapvisor_sessions", state="STOPPED") == 2
            assert value(after, "zapvisor_events_total", event="session.created") == 3
            assert value(after, "zapvisor_last_event_id") == 4
            wait_until(lambda: (value(scrape(d), "zapvisor_webhook_attempt_errors_total",
                                      reason="http_5xx") or 0) >= 2, timeout=20,
                       message="refused attempts counted")
            assert (value(scrape(d), "zapvisor_webhook_queue_depth") or 0) >= 1
            rx.set_status(200)
            wait_until(lambda: value(scrape(d), "zapvisor_webhook_queue_depth") == 0, timeout=20,
                       message="queue drained")
            done = scrape(d)
            assert value(done, "zapvisor_webhook_deliveries_total", outcome="delivered") == 4
            assert (value(done, "zapvisor_webhook_request_seconds_count") or 0) >= 6
            assert value(done, "zapvisor_webhook_delivery_delay_seconds_count") == 4
            stats = d.client.get("/api/stats")
            assert stats["webhooks"]["delivered"] == 4 and stats["events"]["last_id"] == 4
            assert [s["id"] for s in stats["per_session"]] == ["a", "b"]
            assert stats["messages"] == {"sent": 0, "received": 0}
            out = subprocess.run([sys.executable, "-m", "supervisor", "--config",
                                  str(d.config_path), "status"], capture_output=True, text=True,
                                 timeout=60, env={**os.environ, "ZAPVISOR_API_KEY": API_KEY})
            assert out.returncode == 0, out.stderr
            assert "RECEIVED" in out.stdout and "\na " in out.stdout and "uptime_s" in out.stdout
        finally:
            assert d.stop() == 0


def test_counters_follow_bus_events() -> None:
    m = Metrics()
    events = [("session.restart", "a", {"kind": "killed"}), ("session.recycled", "a", {}),
              ("message", "a", {"from_me": False}), ("message", "a", {"fromMe": True}),
              ("message.sent", "b", {}), ("orphans.reaped", None, {"count": 3})]
    for n, (name, session, payload) in enumerate(events, 1):
        m.on_event({"id": n, "event": name, "session": session, "timestamp": 0, "payload": payload})
    text = m.render().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    restarts = {s.labels["reason"]: s.value for s in families["zapvisor_session_restarts"].samples
                if s.name.endswith("_total")}
    assert restarts == {"killed": 1.0, "recycle": 1.0}
    assert m.message_counts == {"a": {"received": 1, "sent": 1}, "b": {"sent": 1}}
    assert "zapvisor_orphans_reaped_total 3.0" in text
    m.on_event({"id": 9, "event": "session.deleted", "session": "a", "timestamp": 0, "payload": {}})
    assert 'session="a"' not in m.render().decode() and "a" not in m.message_counts


@pytest.fixture
def chrome_daemon(workdir: Path, free_port: int) -> Iterator[Daemon]:
    with PageServer() as pages:
        d = Daemon(workdir, free_port, pages.url("/"), events={"resource_interval_s": 0.5},
                   limits={"sample_interval_s": 0.5})
        try:
            yield d.start()
        finally:
            d.stop()
            kill_marked(workdir / "state")


@pytest.mark.chrome
def test_per_session_figures_and_restarts_in_metrics_stats_and_status(
        chrome_daemon: Daemon) -> None:
    d = chrome_daemon
    d.client.post("/api/sessions", {"id": "m"})
    info = d.wait_state("m", "WORKING")

    def figures_present() -> bool:
        s = scrape(d)
        return all(value(s, name, session="m") is not None for name in (
            "zapvisor_session_memory_bytes", "zapvisor_session_processes",
            "zapvisor_session_cpu_percent", "zapvisor_session_heartbeat_rtt_seconds"))

    wait_until(figures_present, timeout=30, message="per-session figures")
    s = scrape(d)
    assert value(s, "zapvisor_sessions", state="WORKING") == 1
    assert (value(s, "zapvisor_session_memory_bytes", session="m") or 0) > 10_000_000
    assert (value(s, "zapvisor_session_processes", session="m") or 0) >= 2
    stats = d.client.get("/api/stats")
    mine = stats["per_session"][0]
    assert mine["id"] == "m" and mine["memory_bytes"] > 10_000_000 and mine["uptime_s"] > 0
    os.kill(int(info["worker_pid"]), signal.SIGKILL)
    wait_until(lambda: value(scrape(d), "zapvisor_session_restarts_total", reason="killed") == 1,
               timeout=30, message="the restart counted by reason")
    d.wait_state("m", "WORKING")
    assert d.client.get("/api/stats")["restarts_by_reason"] == {"killed": 1}
    d.client.post("/api/sessions/m/stop")
    stopped = scrape(d)
    assert value(stopped, "zapvisor_sessions", state="STOPPED") == 1
    assert value(stopped, "zapvisor_session_memory_bytes", session="m") is None
    assert value(stopped, "zapvisor_session_restarts_recorded", session="m") == 1


@pytest.mark.chrome
def test_messages_sent_and_received_are_counted_per_session(workdir: Path, free_port: int) -> None:
    from tests.support.wa import CONTACT, FAST_SIM, PHONE_A, login, wa_daemon
    from tests.wasim import run_simulator

    with run_simulator(**FAST_SIM) as sim, Receiver() as rx:
        d = wa_daemon(workdir, free_port, sim,
                      webhooks={"url": rx.url(), "events": ["message", "message.sent"],
                                "allow_private_networks": True})
        try:
            d.start()
            d.client.post("/api/sessions", {"id": "a"})
            login(d, sim, "a", PHONE_A)
            d.client.post("/api/sessions/a/messages", {"to": CONTACT, "text": "out"})
            sim.incoming(f"{CONTACT}@c.us", "in", phone=PHONE_A)

            def counted() -> bool:
                s = scrape(d)
                return (value(s, "zapvisor_messages_total", session="a", direction="sent") == 1
                        and value(s, "zapvisor_messages_total", session="a",
                                  direction="received") == 1)

            wait_until(counted, timeout=30, message="one message each way")
            per_session = d.client.get("/api/stats")["per_session"][0]
            assert (per_session["messages_sent"], per_session["messages_received"]) == (1, 1)
            wait_until(lambda: len(rx.accepted()) == 2, timeout=20, message="both as webhooks")
            bodies = sorted((r.event["event"], r.event["payload"]["body"]) for r in rx.accepted())
            assert bodies == [("message", "in"), ("message.sent", "out")]
        finally:
            d.stop()
            kill_marked(workdir / "state")
