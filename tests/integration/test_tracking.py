"""A session's processes found without scanning the host: its cgroup, or its own tree.

Both paths, with real workers and Chrome: the figures come from samples, an orphan a killed
worker leaves (its Chrome, held stopped so it cannot exit by itself) is ended through the
session's cgroup or found among the reaper's children, and nothing of the session survives.
The cgroup path needs a writable cgroup v2, which the suite's machines give (root in a
container: the daemon makes its own subtree at the namespace's root).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, MakeDaemon, create
from tests.support.procs import pid_alive, wait_until
from worker import protocol

pytestmark = pytest.mark.chrome
SAMPLED = {"sample_interval_s": 0.5}


def _tracking(d: Daemon) -> dict[str, object]:
    return d.events("daemon.process_tracking")[0]


def _orphan_is_ended(d: Daemon, session_id: str) -> None:
    """Freeze the session's Chrome (so its death signal cannot end it), SIGKILL its worker:
    the daemon must end the orphan and start the session again."""
    info = d.session(session_id)
    worker, chrome = int(info["worker_pid"]), int(info["chrome_pid"])
    os.kill(chrome, signal.SIGSTOP)
    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: not pid_alive(chrome), timeout=30, message="the orphan Chrome ended")
    wait_until(lambda: d.session(session_id)["restarts"] == 1, timeout=30, message="a restart")
    again = d.wait_state(session_id, "WORKING")
    assert again["chrome_pid"] != chrome and again["restarts"] == 1
    reaped = [e for e in d.events("session.orphans_reaped") if e.get("session_id") == session_id]
    assert reaped and reaped[0]["count"] >= 1


def test_the_cgroup_path(make_daemon: MakeDaemon) -> None:
    d = make_daemon(limits=SAMPLED).start()
    tracking = _tracking(d)
    assert tracking["kind"] == "cgroup", f"this suite needs a writable cgroup v2: {tracking}"
    cgroup = Path(str(tracking["cgroup"])) / "session-a"
    info = create(d, "a")["a"]
    members = {int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()}
    assert {info["worker_pid"], info["chrome_pid"]} <= members
    wait_until(lambda: d.session("a")["memory_bytes"], timeout=30, message="a sample")
    sampled = d.session("a")
    assert sampled["processes"] >= 3 and sampled["memory_bytes"] > 10_000_000
    stats = d.client.get("/api/stats")
    assert stats["process_tracking"] == "cgroup"
    _orphan_is_ended(d, "a")
    d.client.post("/api/sessions/a/stop")
    wait_until(lambda: not cgroup.exists(), timeout=10, message="the session cgroup removed")
    assert d.stop() == 0
    assert not cgroup.parent.exists(), "the daemon's own subtree is removed when it stops"


@pytest.mark.parametrize("spawn", ["zygote", "exec"])
def test_the_tree_path(make_daemon: MakeDaemon, spawn: str) -> None:
    d = make_daemon(limits=SAMPLED, sessions={"cgroups": "off", "worker_spawn": spawn}).start()
    assert _tracking(d)["kind"] == "tree"
    info = create(d, "a")["a"]
    wait_until(lambda: d.session("a")["memory_bytes"], timeout=30, message="a sample")
    sampled = d.session("a")
    assert sampled["processes"] >= 3 and sampled["memory_bytes"] > 10_000_000
    assert info["worker_pid"] is not None
    _orphan_is_ended(d, "a")


def test_a_marked_process_born_after_boot_is_left_to_the_boot_sweep(
        make_daemon: MakeDaemon, workdir: Path) -> None:
    """Sessions' ends read only their own processes: a stranger carrying our marker, started
    after boot, is not theirs to end (a scan of the host would have found it). The next boot's
    sweep, the one scan there is, does."""
    d = make_daemon().start()
    create(d, "a")
    env = {**os.environ, protocol.STATE_DIR_ENV: str(workdir / "state"), protocol.SESSION_ENV: "a"}
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        d.client.post("/api/sessions/a/restart")
        d.wait_state("a", "WORKING")
        assert stranger.poll() is None
        assert d.stop() == 0  # the daemon's last sweep at exit is a boot-time one too
        assert stranger.wait(timeout=15) is not None
    finally:
        if stranger.poll() is None:
            stranger.kill()
            stranger.wait()
