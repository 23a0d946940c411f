"""A hung session told from a starved host, with real workers, Chrome and a real daemon.

Starvation is made the way it happens: processes that cannot run. SIGSTOP holds the daemon
itself (its loop then runs late) or several workers at once (late together); one SIGSTOPped
worker or Chrome alone is a hang. The holds are the stimulus, timed past the heartbeat
timeout on purpose; everything else waits by polling with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest

from tests.support.daemon import API_KEY, Daemon, MakeDaemon, create
from tests.support.procs import pid_alive, wait_until

pytestmark = pytest.mark.chrome

# Fast beats and a short timeout, so that a hold of TIMEOUT_S + 2 s is long past it.
TIMEOUT_S = 3.0
LIMITS = {"heartbeat_interval_s": 0.5, "heartbeat_timeout_s": TIMEOUT_S, "kill_grace_s": 1.0,
          "probe_interval_s": 0.5}


def _get(d: Daemon, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}", headers={"X-Api-Key": API_KEY})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _hold(seconds: float) -> None:
    """Let ``seconds`` pass while processes are stopped (the stimulus, not a synchronisation)."""
    time.sleep(seconds)


def test_a_stopped_daemon_wakes_up_starved_and_kills_nothing(make_daemon: MakeDaemon) -> None:
    d = make_daemon(limits=LIMITS).start()
    before = create(d, "a", "b")
    assert d.proc is not None
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        _hold(TIMEOUT_S + 2)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    wait_until(lambda: d.events("host.recovered"), timeout=30, message="starvation over")
    starved = d.events("host.starved")[0]
    assert any("event loop" in reason for reason in starved["reasons"]), starved
    for session_id, info in before.items():
        now = d.session(session_id)
        assert (now["worker_pid"], now["restarts"]) == (info["worker_pid"], 0), now
    assert not d.events("worker.hung")


def test_workers_late_together_are_starvation_one_late_alone_is_hung(make_daemon: MakeDaemon) -> None:
    d = make_daemon(limits=LIMITS).start()
    infos = create(d, "a", "b", "c", "d")
    # (A start on a loaded machine may itself have been retried: compare with after it.)
    restarts = {s: info["restarts"] for s, info in infos.items()}
    hung = len(d.events("worker.hung"))
    held = [int(infos[s]["worker_pid"]) for s in ("a", "b", "c")]
    for pid in held:
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: d.events("host.starved"), timeout=30, message="starvation seen")
        _hold(TIMEOUT_S + 2)
        status, body = _get(d, "/health/ready")
        ready = json.loads(body)
        assert status == 503 and ready["host_starved"]["starved"] is True, ready
        assert "late together" in ready["reason"]
        assert all(pid_alive(pid) for pid in held)
    finally:
        for pid in held:
            os.kill(pid, signal.SIGCONT)
    wait_until(lambda: d.events("host.recovered"), timeout=30, message="starvation over")
    for session_id in ("a", "b", "c", "d"):
        assert d.session(session_id)["restarts"] == restarts[session_id], d.events("worker.hung")
    assert len(d.events("worker.hung")) == hung
    # One worker silent while the others beat: its own evidence, so it is replaced.
    alone = int(infos["d"]["worker_pid"])
    os.kill(alone, signal.SIGSTOP)
    wait_until(lambda: d.session("d")["restarts"] == restarts["d"] + 1, timeout=60, message="d replaced")
    again = d.wait_state("d", "WORKING")
    assert again["worker_pid"] != alone and "no heartbeat" in str(again["last_exit"])
    assert len(d.events("host.starved")) == 1
    metrics = _get(d, "/metrics")[1].decode()
    assert "zapvisor_host_starved 0.0" in metrics and "zapvisor_host_starved_episodes_total 1.0" in metrics


def test_a_frozen_chrome_behind_a_live_worker_is_ended_by_the_supervisor(make_daemon: MakeDaemon) -> None:
    d = make_daemon(limits=LIMITS).start()
    info = create(d, "a")["a"]
    chrome = int(info["chrome_pid"])
    os.kill(chrome, signal.SIGSTOP)  # the worker beats on; CDP gets no answer
    wait_until(lambda: d.session("a")["restarts"] == 1, timeout=60, message="a replaced")
    again = d.wait_state("a", "WORKING")
    assert again["chrome_pid"] != chrome and again["last_exit"] == "Chrome not answering CDP"
    assert not pid_alive(chrome)
    hung = d.events("worker.hung")
    assert [h["kind"] for h in hung] == ["cdp_unresponsive"]
