"""Fault injection (research/supervisor-anchors.md §4): each scenario ends with the session, and
every other session, in the right state, and with no leaked process, fd or directory.

Scenarios already covered elsewhere: kill -9 of a worker and of Chrome, SIGSTOP of a worker,
boot failure, crash loop, a second daemon (test_sessions.py); kill -9 of the daemon
(test_sessions.py); corrupt and truncated databases at the store level (test_store.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from supervisor.errors import ZapvisorError
from tests.support.daemon import Daemon
from tests.support.pages import PageServer
from tests.support.procs import kill_marked, marked_processes, pid_alive, wait_until
from worker import protocol

CHROME = "/usr/lib/chromium/chromium-headless-shell"


@pytest.fixture
def daemons(workdir: Path) -> Iterator[list[Daemon]]:
    made: list[Daemon] = []
    yield made
    for d in made:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
    kill_marked(workdir / "state")


def _up(daemons: list[Daemon], d: Daemon, *ids: str) -> dict[str, dict[str, object]]:
    daemons.append(d.start())
    for session_id in ids:
        d.client.post("/api/sessions", {"id": session_id})
    return {session_id: d.wait_state(session_id, "WORKING") for session_id in ids}


def _renderers(chrome_pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.Process(chrome_pid).children(recursive=True):
        try:
            if "--type=renderer" in proc.cmdline():
                found.append(proc)
        except psutil.Error:  # gone, or a zombie its zygote has not reaped yet
            continue
    return found


@pytest.mark.chrome
def test_killed_renderer_recovers_the_page_and_spares_the_others(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/"))
    infos = _up(daemons, d, "a", "b")
    chrome = int(infos["a"]["chrome_pid"])  # type: ignore[call-overload]
    renderers = _renderers(chrome)
    assert renderers
    for proc in renderers:
        proc.kill()

    def page_back() -> bool:
        info = d.session("a")
        return info["state"] == "WORKING" and isinstance(info["cdp_rtt_ms"], float) and \
            bool(info["chrome_pid"]) and bool(_renderers(int(info["chrome_pid"])))  # type: ignore[call-overload]

    wait_until(page_back, timeout=60, message="a's page answering CDP again")
    b = d.session("b")
    assert (b["worker_pid"], b["chrome_pid"], b["restarts"]) == (
        infos["b"]["worker_pid"], infos["b"]["chrome_pid"], 0)


@pytest.mark.chrome
def test_frozen_chrome_is_replaced(daemons: list[Daemon], workdir: Path, free_port: int,
                                   pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/"), limits={"heartbeat_interval_s": 0.5})
    infos = _up(daemons, d, "a", "b")
    frozen = int(infos["a"]["chrome_pid"])  # type: ignore[call-overload]
    os.kill(frozen, signal.SIGSTOP)
    wait_until(lambda: d.session("a")["restarts"] == 1, timeout=60, message="a replaced")
    a = d.wait_state("a", "WORKING")
    assert a["chrome_pid"] != frozen and "CDP" in str(a["last_exit"])
    wait_until(lambda: not pid_alive(frozen), timeout=10, message="the frozen Chrome killed")
    assert d.session("b")["restarts"] == 0


@pytest.mark.chrome
def test_sigterm_during_chrome_launch_leaves_nothing(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/hang"), chrome={"page_timeout_s": 60})
    daemons.append(d.start())
    for session_id in ("a", "b", "c"):
        d.client.post("/api/sessions", {"id": session_id})
    wait_until(lambda: len(marked_processes(d.state_dir)) >= 6, timeout=30,
               message="workers and Chrome launching")
    assert all(d.session(s)["state"] == "STARTING" for s in "abc")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=20) == 0  # not the 60 s page timeout
    assert marked_processes(d.state_dir) == []


@pytest.mark.chrome
def test_second_sigterm_forces_and_an_unresponsive_worker_is_killed(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/"), server={"graceful_timeout_s": 60},
               limits={"kill_grace_s": 30}, sessions={"stop_timeout_s": 30})
    infos = _up(daemons, d, "a", "b")
    # A frozen worker answers nothing and ignores SIGTERM: only SIGKILL ends it.
    os.kill(int(infos["a"]["worker_pid"]), signal.SIGSTOP)  # type: ignore[call-overload]
    d.signal(signal.SIGTERM)
    wait_until(lambda: d.events("daemon.stopping"), timeout=10, message="stopping")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=15) == 0  # the second signal cuts the 30 s budgets short
    assert d.events("daemon.force_stop")[0]["reason"] == "second signal SIGTERM"
    wait_until(lambda: marked_processes(d.state_dir) == [], timeout=10, message="nothing left")


@pytest.mark.chrome
def test_unresponsive_worker_is_killed_within_the_stop_budget(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/"), limits={"kill_grace_s": 1},
               sessions={"stop_timeout_s": 2})
    infos = _up(daemons, d, "a", "b")
    os.kill(int(infos["a"]["worker_pid"]), signal.SIGSTOP)  # type: ignore[call-overload]
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=30) == 0
    assert d.events("daemon.stopped")[0]["seconds"] < 15
    wait_until(lambda: marked_processes(d.state_dir) == [], timeout=10, message="nothing left")


@pytest.mark.chrome
def test_every_session_crashing_at_once_trips_the_breaker(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    cooldown = 4.0
    d = Daemon(workdir, free_port, pages.url("/"),
               limits={"breaker_crashes": 3, "breaker_window_s": 30, "breaker_cooldown_s": cooldown,
                       "restart_backoff_initial_s": 0.2})
    infos = _up(daemons, d, "a", "b", "c", "d")
    crashed_at = time.monotonic()
    for info in infos.values():
        os.kill(int(info["chrome_pid"]), signal.SIGKILL)  # type: ignore[call-overload]
    wait_until(lambda: d.events("breaker.open"), timeout=20, message="breaker open")
    for session_id in infos:
        d.wait_state(session_id, "WORKING", timeout=60)
    # At least one restart was held for the cooldown instead of its 0.2 s backoff.
    last_ready = time.monotonic() - crashed_at
    assert last_ready >= cooldown * 0.9
    assert d.client.get("/api/stats")["breaker_trips"] == 1
    assert all(d.session(s)["restarts"] == 1 for s in infos)


def test_corrupt_database_is_refused_and_never_overwritten(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    d.state_dir.mkdir(parents=True)
    db = d.state_dir / "zapvisor.db"
    garbage = b"\x00garbage that is no SQLite file" * 64
    db.write_bytes(garbage)
    result = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(d.config_path),
                             "serve"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"{db} is not a usable zapvisor database" in result.stderr
    assert "Traceback" not in result.stderr
    assert db.read_bytes() == garbage


def test_stale_lock_with_a_reused_pid_is_taken_over_and_that_process_untouched(
        daemons: list[Daemon], workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    d.state_dir.mkdir(parents=True)
    # An unrelated process now owns the pid the dead daemon wrote, and names our state dir.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                                  f"--user-data-dir={d.state_dir}/sessions/a/profile"])
    try:
        (d.state_dir / "zapvisor.lock").write_text(f"{bystander.pid}\n")
        daemons.append(d.start())
        assert (d.state_dir / "zapvisor.lock").read_text().strip() == str(d.proc.pid)  # type: ignore[union-attr]
        d.client.post("/api/sessions", {"id": "a", "start": False})
        d.client.delete("/api/sessions/a")
        assert bystander.poll() is None, "an unmarked process must never be signalled"
    finally:
        bystander.kill()
        bystander.wait()


@pytest.fixture
def tiny_disk(workdir: Path) -> Iterator[Path]:
    mount = workdir / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_state_disk_gives_clear_errors_and_keeps_old_state(
        workdir: Path, free_port: int, tiny_disk: Path) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", state={"dir": str(tiny_disk / "state")},
               limits={"min_free_disk_mb": 2, "check_interval_s": 0.2})
    d.state_dir = (tiny_disk / "state").resolve()
    d.start()
    try:
        d.client.post("/api/sessions", {"id": "kept", "start": False})
        # Fill the disk to the last block, unbuffered: a short write leaves nothing to flush later.
        with open(tiny_disk / "filler", "wb", buffering=0) as filler:
            try:
                while filler.write(b"\0" * 65536):
                    pass
            except OSError:
                pass
        wait_until(lambda: not _ready(d), timeout=10, message="readiness reports the full disk")
        with pytest.raises(ZapvisorError) as refused:
            d.client.post("/api/sessions", {"id": "new"})
        assert type(refused.value).__name__ == "Overloaded"
        with pytest.raises(ZapvisorError) as failed:
            for i in range(200):  # until SQLite can no longer grow its files
                d.client.post("/api/sessions", {"id": f"s{i}", "start": False,
                                                "metadata": {"pad": "x" * 15000}})  # < 16 KiB
        assert failed.value.status in (503, 429), failed.value
        assert "Traceback" not in d.log()
        assert d.client.get("/health")["status"] == "ok"
        (tiny_disk / "filler").unlink()
        assert d.session("kept")["state"] == "STOPPED"
    finally:
        assert d.stop() == 0
    d.start()
    try:
        assert d.session("kept")["state"] == "STOPPED"
    finally:
        d.stop()


def _ready(d: Daemon) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/health/ready", timeout=5):
            return True
    except urllib.error.HTTPError:
        return False


def test_create_delete_cycles_leak_nothing(daemons: list[Daemon], workdir: Path,
                                           free_port: int) -> None:
    cycles = int(os.environ.get("ZAPVISOR_CYCLES", "150"))
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    daemons.append(d.start())
    daemon_proc = psutil.Process(d.proc.pid)  # type: ignore[union-attr]

    def one_cycle(i: int) -> None:
        d.client.post("/api/sessions", {"id": f"c{i}", "start": False})
        d.client.post(f"/api/sessions/c{i}/stop")
        d.client.delete(f"/api/sessions/c{i}")

    for i in range(20):  # warm up caches, pools and lazy imports
        one_cycle(i)
    fds, threads = daemon_proc.num_fds(), daemon_proc.num_threads()
    for i in range(20, 20 + cycles):
        one_cycle(i)
    assert daemon_proc.num_fds() <= fds + 2
    assert daemon_proc.num_threads() <= threads + 2
    assert list((d.state_dir / "sessions").iterdir()) == []
    assert d.client.get("/api/sessions")["sessions"] == []


@pytest.mark.chrome
def test_create_delete_cycles_with_chrome_leak_nothing(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    cycles = int(os.environ.get("ZAPVISOR_CHROME_CYCLES", "8"))
    d = Daemon(workdir, free_port, pages.url("/"))
    daemons.append(d.start())
    daemon_proc = psutil.Process(d.proc.pid)  # type: ignore[union-attr]
    fds = None
    for i in range(cycles):
        d.client.post("/api/sessions", {"id": "cycle"})
        d.wait_state("cycle", "WORKING")
        d.client.delete("/api/sessions/cycle")
        assert marked_processes(d.state_dir) == []
        if i == 1:
            fds = daemon_proc.num_fds()
    assert fds is not None
    # A worker's last fds (its pidfd, a reader thread's /proc handles) go a moment after it.
    wait_until(lambda: daemon_proc.num_fds() <= fds + 2, timeout=10,
               message=f"daemon fds back to {fds} (+2)")
    assert list((d.state_dir / "sessions").iterdir()) == []


@pytest.mark.chrome
def test_restart_right_after_kill_9_takes_over_without_doubles(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/"))
    old = _up(daemons, d, "a", "b")
    d.kill()
    d.start()  # at once: the old workers may still be closing their Chrome
    for session_id in ("a", "b"):
        info = d.wait_state(session_id, "WORKING")
        assert info["worker_pid"] != old[session_id]["worker_pid"]
    workers = [p for p in marked_processes(d.state_dir) if p.name() == protocol.WORKER_PROCESS_NAME]
    assert sorted(int(d.session(s)["worker_pid"]) for s in ("a", "b")) == sorted(  # type: ignore[call-overload]
        p.pid for p in workers)
    for session_id in ("a", "b"):
        profile = f"--user-data-dir={d.state_dir}/sessions/{session_id}/profile"
        browsers = [p for p in psutil.process_iter(["cmdline"]) if profile in (p.info["cmdline"] or [])]
        assert len(browsers) == 1, f"one Chrome per profile, found {len(browsers)}"
