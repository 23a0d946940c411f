"""What the daemon gives away or lets others take: the environment of its children, and (see
the other tests here) its key in the log, its files' modes, its file descriptors."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
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
        # The umask every child inherits: the session's folder (made by its worker) is private.
        assert (d.state_dir / "sessions" / "s1").stat().st_mode & 0o777 == 0o700
    finally:
        assert d.stop() == 0
        notify.close()


def test_the_orphan_sweep_ignores_other_users_processes_carrying_our_marker(workdir: Path) -> None:
    """Anyone may put our marker in their environment; a root daemon can read it, and must not
    take the process for one of its own orphans and signal it."""
    assert os.geteuid() == 0, "the suite runs as root (as CI does): it starts a process as nobody"
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


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_state_is_private_and_the_key_never_logged(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", server={"api_key": ""})
    old_session = d.state_dir / "sessions" / "old"
    old_session.mkdir(parents=True)
    for path in (d.state_dir, d.state_dir / "sessions", old_session):
        path.chmod(0o755)  # as a plain mkdir under umask 022 leaves them
    d.start()
    try:
        key = (d.state_dir / "api_key").read_text().strip()
        for path in (d.state_dir, d.state_dir / "sessions", old_session):
            assert _mode(path) == 0o700, path
        for name in ("zapvisor.db", "api_key", "zapvisor.lock"):
            assert _mode(d.state_dir / name) == 0o600, name
        assert str(old_session) in " ".join(d.events("state_dir.tightened")[0]["changed"])
        assert d.events("api_key.generated")[0]["saved_in"] == str(d.state_dir / "api_key")
        assert key not in d.log()
        if os.geteuid() == 0:  # the consequence is named
            assert "--no-sandbox" in d.events("daemon.running_as_root")[0]["consequence"]
    finally:
        assert d.stop() == 0
    (d.state_dir / "zapvisor.db").chmod(0o644)  # an older zapvisor left it so
    d.start()
    try:
        assert _mode(d.state_dir / "zapvisor.db") == 0o600
    finally:
        assert d.stop() == 0
    assert key not in d.log()


def test_the_soft_file_limit_is_raised_to_the_hard_one(workdir: Path, free_port: int) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    d.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)))
    try:
        assert psutil.Process(d.proc.pid).rlimit(psutil.RLIMIT_NOFILE) == (hard, hard)  # type: ignore[union-attr]
        assert d.events("daemon.file_limit")[0] == {**d.events("daemon.file_limit")[0], "soft": hard}
    finally:
        assert d.stop() == 0


def _slow_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each send half a request and then nothing (slowloris)."""
    clients = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            sock.sendall(b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: ")
        except OSError:  # already closed to make room: fine, it is still a connection made
            pass
        clients.append(sock)
    return clients


@pytest.mark.chrome
def test_a_flood_of_slow_connections_neither_silences_the_api_nor_fails_sessions(
        workdir: Path, free_port: int, pages: PageServer) -> None:
    """The review's attack, at systemd's default file limit (1024, here soft and hard, so the
    daemon cannot raise it): 1,100 half-sent requests that never finish."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))  # ours: 1,100+
    d = Daemon(workdir, free_port, pages.url("/"), server={"header_timeout_s": 3.0})
    d.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)))
    clients: list[socket.socket] = []
    try:
        d.client.post("/api/sessions", {"id": "s1"})
        before = d.wait_state("s1", "WORKING")
        log_size = d.log_path.stat().st_size
        clients = _slow_clients(d.port, 1100)
        for _ in range(5):  # the health check answers, again and again, during the flood
            assert d.client.get("/health")["status"] == "ok"
            time.sleep(0.5)
        # Past header_timeout_s the slow connections are closed by the daemon, not kept.
        clients[-1].settimeout(15)  # header_timeout_s is 3: the daemon ends it well before
        assert clients[-1].recv(1) == b""
        after = d.session("s1")
        assert after["state"] == "WORKING" and after["worker_pid"] == before["worker_pid"]
        assert after["restarts"] == before["restarts"]
        logged = d.log()[log_size:]
        assert len(logged) < 20_000, logged[-3000:]
        assert "Too many open files" not in logged and "out of system resource" not in logged
    finally:
        for sock in clients:
            sock.close()
        assert d.stop() == 0
