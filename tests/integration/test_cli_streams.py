"""``zapvisor events`` and ``zapvisor webhooks`` as users run them: real CLI processes against a
real daemon (restarted under the follower's feet), and a real webhook receiver. Sessions are
created stopped: their ``session.created`` / ``session.deleted`` events are all these need."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import zapvisor
from tests.support.cli import Follower
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.receiver import Receiver


def _events(follower: Follower) -> list[dict[str, object]]:
    return [json.loads(line) for line in follower.lines()]


def test_events_follows_filters_resumes_across_a_restart_and_ends_on_ctrl_c(
        workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/").start()
    try:
        cfg = d.config_path
        first = d.client.get("/api/stats")["events"]["last_id"] + 1
        d.client.post("/api/sessions", {"id": "s1", "start": False})  # before: from the history
        with Follower(cfg, "events", "--json", "--after", str(first - 1)) as every, \
                Follower(cfg, "events", "s1", "--after", str(first - 1)) as mine, \
                Follower(cfg, "events", "--events", "session.deleted") as deleted:
            followers = (every, mine, deleted)
            wait_until(lambda: d.client.get("/api/stats")["events"]["sse_clients"] == 3, timeout=20,
                       message="the three followers connected")
            d.client.post("/api/sessions", {"id": "s2", "start": False})
            d.client.delete("/api/sessions/s2")
            wait_until(lambda: len(every.lines()) >= 3, timeout=20, message="3 events as JSON")
            # The daemon goes away and comes back: the followers say so and reconnect by
            # themselves. Held back meanwhile, they come back after an event they did not see:
            # they get it from the daemon's history (Last-Event-ID), then the live ones.
            assert d.stop() == 0
            for follower in followers:
                wait_until(lambda: "reconnecting" in follower.stderr(), timeout=20,
                           message="the follower to notice")
                follower.pause()
            d.start()
            d.client.post("/api/sessions", {"id": "s3", "start": False})
            for follower in followers:
                follower.resume()
            wait_until(lambda: d.client.get("/api/stats")["events"]["sse_clients"] == 3, timeout=30,
                       message="the three followers back")
            d.client.delete("/api/sessions/s1")
            wait_until(lambda: len(every.lines()) >= 5, timeout=30, message="5 events after the restart")
            wait_until(lambda: len(deleted.lines()) >= 2, timeout=30, message="the two deletions")
            wait_until(lambda: len(mine.lines()) >= 2, timeout=30, message="s1's two events")
            assert [follower.interrupt() for follower in followers] == [130, 130, 130]
        got = _events(every)
        assert [(e["id"], e["event"], e["session"]) for e in got] == [
            (first, "session.created", "s1"), (first + 1, "session.created", "s2"),
            (first + 2, "session.deleted", "s2"), (first + 3, "session.created", "s3"),
            (first + 4, "session.deleted", "s1")]  # every one, once, in order, none lost
        assert set(got[0]) == {"id", "event", "session", "timestamp", "payload"}
        assert "reconnected, resuming after event" in every.stderr()
        for follower in followers:
            err = follower.stderr()
            assert "Traceback" not in err and "aborted" not in err  # Ctrl-C: status 130, quietly
        # For people: time, event, session, a short summary; only s1's with SESSION_ID.
        lines = mine.lines()
        assert [line.split()[1:3] for line in lines] == [["session.created", "s1"],
                                                         ["session.deleted", "s1"]]
        assert lines[0].endswith("created (stopped)") and lines[1].endswith("deleted")
        assert [line.split()[1:3] for line in deleted.lines()] == [["session.deleted", "s2"],
                                                                   ["session.deleted", "s1"]]
    finally:
        d.stop()


def test_events_errors_are_one_line(plain_daemon: Daemon) -> None:
    cfg = plain_daemon.config_path
    missing = zapvisor("events", "ghost", config=cfg)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "zapvisor: error: session 'ghost' does not exist"
    bad = zapvisor("events", "--events", "Message", "--json", config=cfg)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
    assert json.loads(bad.stderr)["error"]["type"] == "UsageError"
    down = zapvisor("events", "--url", "http://127.0.0.1:9", config=cfg)
    assert down.returncode == 1 and "daemon is not running" in down.stderr
    assert len(down.stderr.splitlines()) == 1


def test_webhooks_lists_shows_and_retries_deliveries(workdir: Path, free_port: int) -> None:
    with Receiver(status=400) as rx:
        d = Daemon(workdir, free_port, "http://127.0.0.1:9/", webhooks={
            "url": rx.url(), "events": ["session.created"], "allow_private_networks": True,
            "retry_initial_s": 0.05, "retry_max_s": 0.3, "timeout_s": 2.0}).start()
        try:
            cfg = d.config_path
            d.client.post("/api/sessions", {"id": "a", "start": False})

            def failed() -> list[dict[str, object]]:
                out = zapvisor("webhooks", "--status", "failed", "--json", config=cfg)
                assert out.returncode == 0, out.stderr
                found: list[dict[str, object]] = json.loads(out.stdout)["deliveries"]
                return found

            wait_until(failed, timeout=20, message="a failed delivery")
            delivery = failed()[0]
            assert (delivery["session"], delivery["event"], delivery["last_status"]) == ("a", "session.created", 400)
            table = zapvisor("webhooks", config=cfg)
            counts, header, row = table.stdout.splitlines()
            assert counts == "pending 0, delivered 0, failed 1"
            assert header.split()[:5] == ["ID", "EVENT", "SESSION", "STATUS", "TRIES"]
            assert row.split()[:6] == [str(delivery["id"]), "session.created", f"#{delivery['event_id']}",
                                       "a", "failed", "1"] and "HTTP 400" in row
            assert json.loads(zapvisor("webhooks", "--session", "zz", "--json", config=cfg).stdout)[
                "deliveries"] == []
            rx.set_status(200)
            retried = zapvisor("webhooks", "retry", str(delivery["id"]), config=cfg)
            assert retried.returncode == 0, retried.stderr
            assert retried.stdout.strip() == f"delivery {delivery['id']} queued again (pending)"
            wait_until(rx.accepted, timeout=20, message="delivered after the retry")
            assert rx.accepted()[0].event["event"] == "session.created"

            def shown() -> dict[str, object]:
                out = zapvisor("webhooks", "show", str(delivery["id"]), "--json", config=cfg)
                value: dict[str, object] = json.loads(out.stdout)
                return value

            wait_until(lambda: shown()["status"] == "delivered", timeout=10, message="marked delivered")
            assert shown()["payload"] == {"start": False}
            again = zapvisor("webhooks", "retry", str(delivery["id"]), config=cfg)
            assert again.returncode == 1 and len(again.stderr.splitlines()) == 1
            assert again.stderr.startswith("zapvisor: error: ") and "Traceback" not in again.stderr
            unknown = zapvisor("webhooks", "retry", "999999", "--json", config=cfg)
            assert json.loads(unknown.stderr)["error"]["type"] == "NotFound"
        finally:
            assert d.stop() == 0
