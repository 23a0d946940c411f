"""What the daemon gives away or lets others take: the environment of its children, and (see
the other tests here) its key in the log, its files' modes, its file descriptors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from supervisor.procs.reaper import find_marked
from tests.support.daemon import Daemon
from tests.support.pages import PageServer
from tests.support.procs import is_zygote, marked_processes, wait_until
from worker import protocol

SECRET_ENV = {"ZAPVISOR_WEBHOOKS__SECRET": "hmac-secret-of-the-daemon",
              "ZAPVISOR_SERVER__API_KEY": "the-daemon-api-key-0123",
              "WATCHDOG_USEC": "60000000", "AWS_SECRET_ACCESS_KEY": "not-for-children",
              "LC_TIME": "C.UTF-8"}


def _allowed(name: str) -> bool:
    return name in protocol.CHILD_ENV or name.startswith("LC_")


@pytest.mark.chrome
@pytest.mark.parametrize("spawn", ["zygote", "exec"])
def test_children_get_a_minimal_environment(workdir: Path, free_port: int, pages: PageServer,
                                            spawn: str) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd's, as far as it knows
    notify.bind(str(workdir / "notify.sock"))
    d = Daemon(workdir, free_port, pages.url("/"), sessions={"worker_spawn": spawn},
               server={"api_key": ""})
    d.start(env={**SECRET_ENV, "NOTIFY_SOCKET": str(workdir / "notify.sock")})
    try:
        d.client.api_key = SECRET_ENV["ZAPVISOR_SERVER__API_KEY"]
        d.client.post("/api/sessions", {"id": "s1"})
        info = d.wait_state("s1", "WORKING")
        children = {"worker": psutil.Process(info["worker_pid"]),
                    "chrome": psutil.Process(info["chrome_pid"])}
        if spawn == "zygote":
            children["zygote"] = next(p for p in marked_processes(d.state_dir, zygote=True)
                                      if is_zygote(p))
        for what, proc in children.items():
            env = proc.environ()
            assert sorted(name for name in env if not _allowed(name)) == [], what
            assert env[protocol.STATE_DIR_ENV] == str(d.state_dir), what
            assert env.get("LC_TIME") == "C.UTF-8", what  # the locale does pass
            assert not any(value in str(env) for value in SECRET_ENV.values()
                           if value != "C.UTF-8"), what
        assert children["chrome"].environ()[protocol.SESSION_ENV] == "s1"
        assert children["chrome"].environ()["TMPDIR"] == str(d.state_dir / "sessions/s1/tmp")
    finally:
        assert d.stop() == 0
        notify.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another user")
def test_the_orphan_sweep_ignores_other_users_processes_carrying_our_marker(workdir: Path) -> None:
    """Anyone may put our marker in their environment; a root daemon can read it, and must not
    take the process for one of its own orphans and signal it."""
    state_dir = workdir / "state"
    env = {"PATH": os.environ["PATH"], protocol.STATE_DIR_ENV: str(state_dir),
           protocol.SESSION_ENV: "s1"}
    other = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    try:
        wait_until(lambda: psutil.Process(other.pid).uids().real != 0, 5, message="setpriv'd")
        assert [m.pid for m in find_marked(state_dir)] == []
    finally:
        other.kill()
        other.wait(timeout=10)
