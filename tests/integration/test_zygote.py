"""Workers forked by the zygote, the zygote's death, and the exec fallback."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.daemon import Daemon
from tests.support.pages import PageServer
from tests.support.procs import (
    is_zygote,
    kill_marked,
    marked_processes,
    pid_alive,
    wait_until,
)
from worker import protocol

pytestmark = pytest.mark.chrome


@pytest.fixture
def daemon(request: pytest.FixtureRequest, workdir: Path, free_port: int) -> Iterator[Daemon]:
    with PageServer() as pages:
        d = Daemon(workdir, free_port, pages.url("/"), sessions={"worker_spawn": request.param})
        d.start()
        try:
            yield d
        finally:
            d.stop()
            kill_marked(d.state_dir)


@pytest.mark.parametrize("daemon", ["zygote"], indirect=True)
def test_workers_are_forked_by_one_zygote_and_survive_its_replacement(daemon: Daemon) -> None:
    for session_id in ("a", "b"):
        daemon.client.post("/api/sessions", {"id": session_id})
    infos = {s: daemon.wait_state(s, "WORKING") for s in ("a", "b")}
    workers = [psutil.Process(int(i["worker_pid"])) for i in infos.values()]  # type: ignore[call-overload]
    zygotes = {w.ppid() for w in workers}
    assert len(zygotes) == 1
    zygote = psutil.Process(zygotes.pop())
    assert is_zygote(zygote) and zygote.ppid() == daemon.proc.pid  # type: ignore[union-attr]
    assert all(w.name() == protocol.WORKER_PROCESS_NAME for w in workers)
    # The zygote dies: its workers get their death signal, close Chrome and exit; the sessions
    # restart through a new zygote.
    os.kill(zygote.pid, signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(w.pid) for w in workers), timeout=10,
               message="the zygote's workers gone with it")
    for session_id in ("a", "b"):
        wait_until(lambda: daemon.session(session_id)["restarts"] >= 1, timeout=30,
                   message=f"{session_id} restarted")
        info = daemon.wait_state(session_id, "WORKING")
        assert psutil.Process(int(info["worker_pid"])).ppid() != zygote.pid  # type: ignore[call-overload]
    assert len([p for p in marked_processes(daemon.state_dir, zygote=True) if is_zygote(p)]) == 1


@pytest.mark.parametrize("daemon", ["exec"], indirect=True)
def test_exec_mode_starts_a_fresh_interpreter_per_worker(daemon: Daemon) -> None:
    daemon.client.post("/api/sessions", {"id": "a"})
    info = daemon.wait_state("a", "WORKING")
    worker = psutil.Process(int(info["worker_pid"]))  # type: ignore[call-overload]
    assert worker.ppid() == daemon.proc.pid  # type: ignore[union-attr]
    assert worker.cmdline()[1:4] == ["-m", "worker", "--fd"]
    assert not [p for p in marked_processes(daemon.state_dir, zygote=True) if is_zygote(p)]
