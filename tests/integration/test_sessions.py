"""Sessions with real workers and real Chrome, through a real daemon and its HTTP API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.support.daemon import MakeDaemon, create
from tests.support.procs import marked_processes, pid_alive, wait_until
from worker import protocol
from worker.browser.profile import user as profile_user

pytestmark = pytest.mark.chrome
CHROME = "/usr/lib/chromium/chromium-headless-shell"


def pids(info: dict[str, object]) -> tuple[object, object]:
    return info["worker_pid"], info["chrome_pid"]


def test_three_sessions_each_with_own_worker_chrome_and_profile(make_daemon: MakeDaemon) -> None:
    d = make_daemon().start()
    infos = create(d, "a", "b", "c")
    workers = {i["worker_pid"] for i in infos.values()}
    chromes = {i["chrome_pid"] for i in infos.values()}
    assert len(workers) == 3 and len(chromes) == 3
    for session_id, info in infos.items():
        profile = Path(str(info["profile_dir"]))
        assert profile == d.state_dir / "sessions" / session_id / "profile"
        assert profile.stat().st_mode & 0o777 == 0o700
        chrome = psutil.Process(int(info["chrome_pid"]))
        assert f"--user-data-dir={profile}" in chrome.cmdline()
        assert chrome.environ()["TMPDIR"] == str(profile.parent / "tmp")
        assert chrome.ppid() == info["worker_pid"]
    wait_until(lambda: all(d.session(s)["memory_bytes"] for s in "abc"), timeout=20,
               message="memory figures from heartbeats")
    listed = d.client.get("/api/sessions")
    assert listed["stats"]["by_state"]["WORKING"] == 3
    assert all(s["uptime_s"] is not None and s["memory_bytes"] > 10_000_000 for s in listed["sessions"])
    assert d.stop() == 0
    assert marked_processes(d.state_dir) == []


def test_killed_chrome_and_killed_worker_recover_only_that_session(make_daemon: MakeDaemon) -> None:
    d = make_daemon().start()
    infos = create(d, "a", "b", "c")
    os.kill(int(infos["a"]["chrome_pid"]), signal.SIGKILL)
    wait_until(lambda: d.session("a")["restarts"] == 1, timeout=30, message="a restarted")
    a = d.wait_state("a", "WORKING")
    assert pids(a) != pids(infos["a"]) and "Chrome" in str(a["last_exit"])

    worker_b = int(infos["b"]["worker_pid"])
    chrome_b = int(infos["b"]["chrome_pid"])
    os.kill(worker_b, signal.SIGKILL)
    wait_until(lambda: not pid_alive(chrome_b), timeout=5, message="b's Chrome died with its worker")
    wait_until(lambda: d.session("b")["restarts"] == 1, timeout=30, message="b restarted")
    b = d.wait_state("b", "WORKING")
    assert b["worker_pid"] != worker_b and b["last_exit"] == "killed by SIGKILL"
    c = d.session("c")
    assert pids(c) == pids(infos["c"]) and c["restarts"] == 0


def test_kill_9_of_the_daemon_leaves_no_worker_and_no_chrome(make_daemon: MakeDaemon) -> None:
    d = make_daemon().start()
    create(d, "a", "b", "c")
    assert len(marked_processes(d.state_dir)) >= 6
    d.kill()
    wait_until(lambda: marked_processes(d.state_dir) == [], timeout=5,
               message="every worker and Chrome gone within 5 s of kill -9")


def test_restart_restores_running_sessions_and_keeps_stopped_ones(make_daemon: MakeDaemon) -> None:
    d = make_daemon().start()
    create(d, "a", "b")
    d.client.post("/api/sessions/b/stop")
    d.client.post("/api/sessions", {"id": "c", "start": False})
    assert d.stop() == 0
    d.start()
    d.wait_state("a", "WORKING")
    assert d.session("b")["state"] == "STOPPED" and d.session("c")["state"] == "STOPPED"
    assert d.events("daemon.ready")[-1]["restored"] == 1
    # The profile is reused, not recreated.
    assert (d.state_dir / "sessions" / "a" / "profile" / "Default").is_dir()


def test_sigterm_stops_everything_within_budget_and_kill_9_restores(make_daemon: MakeDaemon) -> None:
    d = make_daemon().start()
    create(d, "a", "b", "c")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=30) == 0
    stopped = d.events("daemon.stopped")[-1]
    assert stopped["seconds"] < 20  # the configured graceful_timeout_s
    assert marked_processes(d.state_dir) == []
    d.start()
    for session_id in "abc":
        d.wait_state(session_id, "WORKING")
    d.kill()
    wait_until(lambda: marked_processes(d.state_dir) == [], timeout=5, message="no leftovers")
    d.start()
    for session_id in "abc":
        d.wait_state(session_id, "WORKING")


def test_leftover_marked_chrome_from_a_previous_run_is_reaped(make_daemon: MakeDaemon, workdir: Path) -> None:
    d = make_daemon()
    d.state_dir.mkdir(parents=True)
    profile = d.state_dir / "sessions" / "old" / "profile"
    profile.mkdir(parents=True)
    env = {**os.environ, protocol.STATE_DIR_ENV: str(d.state_dir), protocol.SESSION_ENV: "old"}
    orphan = subprocess.Popen([CHROME, "--no-sandbox", f"--user-data-dir={profile}",
                               "--remote-debugging-port=0", "about:blank"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Only the browser process carries the marker; its zygotes and renderers do not.
        wait_until(lambda: len(psutil.Process(orphan.pid).children(recursive=True)) >= 2,
                   timeout=10, message="orphan Chrome with its children")
        tree = [orphan.pid] + [c.pid for c in psutil.Process(orphan.pid).children(recursive=True)]
        d.start()
        assert orphan.wait(timeout=10) is not None
        assert d.events("daemon.ready")[0]["orphans_reaped"] >= len(tree)
        assert not any(pid_alive(pid) for pid in tree)
    finally:
        orphan.kill()
        orphan.wait()


def test_stale_singleton_lock_is_removed_but_a_live_one_fails_the_session(make_daemon: MakeDaemon) -> None:
    d = make_daemon()
    stale = d.state_dir / "sessions" / "stale" / "profile"
    live = d.state_dir / "sessions" / "live" / "profile"
    for profile in (stale, live):
        profile.mkdir(parents=True, mode=0o700)
    (stale / "SingletonLock").symlink_to("otherhost-999999")
    d.start()
    foreign = subprocess.Popen([CHROME, "--no-sandbox", f"--user-data-dir={live}",
                                "--remote-debugging-port=0", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # chrome-headless-shell takes no SingletonLock: the profile is "live" once that Chrome
        # holds its Local Storage LOCK, which is what the worker asks (profile.user).
        wait_until(lambda: profile_user(live) is not None, timeout=30, message="foreign Chrome holds the profile")
        create(d, "stale")
        d.client.post("/api/sessions", {"id": "live"})
        failed = d.wait_state("live", "FAILED")
        assert str(foreign.pid) in str(failed["last_error"]) and failed["restarts"] == 0
        assert foreign.poll() is None, "a foreign Chrome must never be killed"
    finally:
        foreign.kill()
        foreign.wait()


def test_missing_chrome_fails_at_once_without_a_restart_loop(make_daemon: MakeDaemon) -> None:
    d = make_daemon(chrome={"executable": "/nonexistent/chrome"}).start()
    d.client.post("/api/sessions", {"id": "a"})
    failed = d.wait_state("a", "FAILED")
    assert "/nonexistent/chrome" in str(failed["last_error"]) and failed["restarts"] == 0
    d.client.post("/api/sessions/a/restart")
    d.wait_state("a", "FAILED")
    spawned = [e for e in d.events("worker.spawned") if e.get("session_id") == "a"]
    assert len(spawned) == 2  # one per explicit start, none by itself


def test_crash_loop_backs_off_with_growing_delays_then_fails(make_daemon: MakeDaemon) -> None:
    # A real binary that dies at once, as a Chrome crashing on start would.
    d = make_daemon(chrome={"executable": "/bin/false"},
                    limits={"max_fast_crashes": 5, "restart_backoff_initial_s": 0.2,
                            "restart_backoff_factor": 2.0, "restart_backoff_jitter": 0.1}).start()
    d.client.post("/api/sessions", {"id": "loop"})
    failed = d.wait_state("loop", "FAILED", timeout=60)
    assert "5 fast crashes" in str(failed["last_error"]) and failed["restarts"] == 5
    spawns = [e["timestamp"] for e in d.events("worker.spawned") if e.get("session_id") == "loop"]
    from datetime import datetime
    times = [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in spawns]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 4
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:])), gaps


def test_a_second_daemon_on_the_same_state_dir_is_refused(make_daemon: MakeDaemon, workdir: Path) -> None:
    first = make_daemon().start()
    second = subprocess.run(
        [sys.executable, "-m", "supervisor", "--config", str(first.config_path), "serve",
         "--port", "0"], capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert "already using the state directory" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.client.get("/health")["status"] == "ok"


def test_twenty_sessions_created_at_once_all_reach_working(make_daemon: MakeDaemon) -> None:
    from concurrent.futures import ThreadPoolExecutor

    d = make_daemon(sessions={"max_concurrent_starts": 4}).start()
    ids = [f"s{i:02d}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda s: d.client.post("/api/sessions", {"id": s}), ids))
    for session_id in ids:
        info = d.wait_state(session_id, "WORKING", timeout=120)
        assert info["restarts"] == 0 and info["last_error"] is None
    assert len({d.session(s)["chrome_pid"] for s in ids}) == 20


def test_a_frozen_worker_misses_its_heartbeat_and_is_replaced(make_daemon: MakeDaemon) -> None:
    d = make_daemon(limits={"heartbeat_interval_s": 0.5, "heartbeat_timeout_s": 5.0,
                            "kill_grace_s": 1.0}).start()
    info = create(d, "a")["a"]
    worker = int(info["worker_pid"])
    os.kill(worker, signal.SIGSTOP)
    wait_until(lambda: d.session("a")["restarts"] == 1, timeout=30, message="a replaced")
    a = d.wait_state("a", "WORKING")
    assert a["worker_pid"] != worker and "no heartbeat" in str(a["last_exit"])
    assert not pid_alive(worker)


def test_stop_start_restart_delete_through_the_api(make_daemon: MakeDaemon) -> None:
    d = make_daemon().start()
    first = create(d, "a")["a"]
    stopped = d.client.post("/api/sessions/a/stop")
    assert stopped["state"] == "STOPPED" and stopped["desired"] == "stopped"
    assert marked_processes(d.state_dir) == []
    d.client.post("/api/sessions/a/start")
    second = d.wait_state("a", "WORKING")
    assert second["worker_pid"] != first["worker_pid"]
    try:
        d.client.post("/api/sessions/a/start")
        raise AssertionError("starting a running session must conflict")
    except Exception as exc:  # the rebuilt Conflict
        assert type(exc).__name__ == "Conflict" and "already" in str(exc)
    d.client.post("/api/sessions/a/restart")
    third = d.wait_state("a", "WORKING")
    assert third["worker_pid"] not in (first["worker_pid"], second["worker_pid"])
    d.client.delete("/api/sessions/a")
    assert not (d.state_dir / "sessions" / "a").exists()
    assert marked_processes(d.state_dir) == []
