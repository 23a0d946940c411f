"""Fencing end to end: a worker whose lease lapses kills its real Chrome and exits EXIT_FENCED;
one whose lease is extended keeps running; one without a lease is as before; and a frozen
(SIGSTOP) supervisor's worker fences itself, after which the supervisor, resumed, does not
restart the session.

Workers are real ``python -m worker`` processes with real Chrome. The frozen supervisor is
tests/support/leaseholder.py: the product's Registry, Sessions and WorkerProcesses in a process
of their own, with the lease loop the cluster layer runs (supervisor.sessions.fencing). The
daemon itself offers no way to turn leases on until the cluster layer lands (and a config knob
or a test hook just for this is not wanted), so the SIGSTOP is sent to that process.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.daemon import write_config
from tests.support.pages import PageServer
from tests.support.procs import (
    kill_marked,
    marked_processes,
    pid_alive,
    process_alive,
    process_tree,
    wait_until,
)
from tests.support.workerproc import REPO, WorkerProc, boot_args
from worker import protocol

pytestmark = pytest.mark.chrome


def boot_working(worker: WorkerProc, state_dir: Path, url: str,
                 **overrides: object) -> tuple[int, list[psutil.Process]]:
    """Boot, wait for WORKING; Chrome's pid and process tree."""
    reply = worker.boot(boot_args(state_dir, worker.session, url, **overrides))
    assert reply["ok"], f"{reply}\n{worker.log_tail()}"
    worker.wait_event(protocol.EV_STATE, 30, state=protocol.WorkerState.WORKING)
    chrome_pid = reply["result"]["chrome_pid"]
    return chrome_pid, process_tree(chrome_pid)


def lease(worker: WorkerProc, valid_for_s: float) -> dict[str, Any]:
    """Send OP_LEASE for ``valid_for_s`` from now; its reply."""
    return worker.request(protocol.OP_LEASE, {"until_monotonic": time.monotonic() + valid_for_s}, timeout=10)


def log_lines(worker: WorkerProc, event: str) -> list[dict[str, Any]]:
    """The worker's JSON log lines of ``event``."""
    lines = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def exiting(messages: list[dict[str, Any]]) -> dict[str, Any]:
    found = [m["data"] for m in messages if m.get("event") == protocol.EV_EXITING]
    assert len(found) == 1, messages[-5:]
    return found[0]


def test_a_lease_never_extended_kills_chrome_and_exits_fenced(
        spawn: Callable[[], WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    # Booted under a lease (no moment without one), shortened once, then never extended.
    chrome_pid, tree = boot_working(worker, state_dir, server.url("/"),
                                    lease_until_monotonic=time.monotonic() + 60)
    reply = lease(worker, 2.0)
    assert reply["ok"] and 0 < reply["result"]["remaining_s"] <= 2.0, reply
    assert worker.wait_exit(20) == protocol.EXIT_FENCED
    last = exiting(worker.drain())
    assert last["code"] == protocol.EXIT_FENCED and last["kind"] == protocol.ExitKind.FENCED
    assert last["reason"].startswith("fenced: the supervisor's lease lapsed"), last
    wait_until(lambda: not any(process_alive(p) for p in tree), 5, message="Chrome's tree gone")
    assert not marked_processes(state_dir)
    fenced = log_lines(worker, "worker.fenced")
    assert len(fenced) == 1 and fenced[0]["chrome_pid"] == chrome_pid and fenced[0]["late_s"] >= 0
    # Killed, not closed: no Browser.close, no SIGTERM ladder.
    assert [line["how"] for line in log_lines(worker, "chrome.exited")] == ["killed"]


def test_a_lease_extended_regularly_keeps_the_session_running(
        spawn: Callable[[], WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    lease_s = 2.0
    chrome_pid, _ = boot_working(worker, state_dir, server.url("/"),
                                 lease_until_monotonic=time.monotonic() + lease_s + 30)
    # Renewed on each heartbeat (every 0.5 s), as a node renews every lease_s / 3, through
    # more than four lease periods.
    until = time.monotonic() + 4 * lease_s
    renewals = 0
    while time.monotonic() < until:
        worker.wait_event(protocol.EV_HEARTBEAT, 5)
        reply = lease(worker, lease_s)
        assert reply["ok"] and 0 < reply["result"]["remaining_s"] <= lease_s, reply
        renewals += 1
    assert renewals >= 10
    assert worker.proc.poll() is None and pid_alive(chrome_pid), worker.log_tail()
    assert not [m for m in worker.seen if m.get("event") == protocol.EV_EXITING]
    assert lease(worker, 120)["ok"]  # room for the graceful stop below
    assert worker.request(protocol.OP_STOP)["ok"]
    assert worker.wait_exit(20) == protocol.EXIT_OK
    assert exiting(worker.drain())["kind"] == protocol.ExitKind.STOP
    assert not log_lines(worker, "worker.fenced")


def test_leases_still_count_while_chrome_closes_in_order(
        spawn: Callable[[], WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    chrome_pid, tree = boot_working(worker, state_dir, server.url("/"), close_timeout_s=3.0,
                                    lease_until_monotonic=time.monotonic() + 60)
    assert lease(worker, 1.5)["ok"]
    # A Chrome that does not answer Browser.close: the orderly close takes the whole
    # close_timeout_s (then SIGTERM, then SIGKILL), well past the lease's deadline...
    os.kill(chrome_pid, signal.SIGSTOP)
    assert worker.request(protocol.OP_STOP)["ok"]
    wait_until(lambda: log_lines(worker, "worker.stopping"), 10, message="the shutdown under way")
    # ...unless the supervisor, which still vouches for it, extends the lease meanwhile.
    reply = lease(worker, 60)
    assert reply["ok"] and reply["result"]["remaining_s"] > 30, reply
    assert worker.wait_exit(30) == protocol.EXIT_OK
    assert exiting(worker.drain())["kind"] == protocol.ExitKind.STOP
    assert not log_lines(worker, "worker.fenced")
    wait_until(lambda: not any(process_alive(p) for p in tree), 5, message="Chrome's tree gone")


def test_without_a_lease_nothing_changes(spawn: Callable[[], WorkerProc], state_dir: Path,
                                         server: PageServer) -> None:
    worker = spawn()
    chrome_pid, _ = boot_working(worker, state_dir, server.url("/"))
    for _ in range(6):
        worker.wait_event(protocol.EV_HEARTBEAT, 5)
    bad = worker.request(protocol.OP_LEASE, {"until_monotonic": "soon"})
    assert not bad["ok"] and bad["error"]["type"] == protocol.ErrorType.INVALID_REQUEST, bad
    assert worker.proc.poll() is None and pid_alive(chrome_pid)
    assert worker.request(protocol.OP_STOP)["ok"]
    assert worker.wait_exit(20) == protocol.EXIT_OK
    assert exiting(worker.drain()) == {"code": 0, "kind": protocol.ExitKind.STOP, "reason": "stop requested"}
    assert not log_lines(worker, "worker.fenced")


def test_a_lease_lapsed_at_boot_never_starts_chrome(spawn: Callable[[], WorkerProc], state_dir: Path,
                                                    server: PageServer) -> None:
    worker = spawn()
    reply = worker.boot(boot_args(state_dir, "s1", server.url("/"), lease_until_monotonic=time.monotonic() - 1))
    assert not reply["ok"] and reply["error"]["type"] == protocol.WorkerErrorType.WORKER_STOPPING, reply
    assert worker.wait_exit(20) == protocol.EXIT_FENCED
    assert exiting(worker.drain())["kind"] == protocol.ExitKind.FENCED
    assert log_lines(worker, "worker.fenced") and not log_lines(worker, "chrome.launched")


class Holder:
    """tests/support/leaseholder.py running, its JSON lines read by a thread."""

    def __init__(self, workdir: Path, url: str, lease_s: float) -> None:
        self.state_dir = workdir / "state"
        config = write_config(workdir / "config.toml", {
            "state": {"dir": str(self.state_dir)},
            "whatsapp": {"url": url, "driver": "basic"},
            "chrome": {"launch_timeout_s": 30.0, "close_timeout_s": 3.0},
            "limits": {"heartbeat_interval_s": 0.5, "heartbeat_timeout_s": 8.0,
                       "restart_backoff_initial_s": 0.3},
            "logging": {"format": "json"},
        })
        self.log_path = workdir / "holder.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.leaseholder", str(config), str(lease_s)],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                env={**os.environ, "PYTHONPATH": str(REPO)})
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(json.loads(raw))

    def wait_line(self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"no {what} within {timeout:g}s; seen {self.seen[-8:]}\n{tail}") from None
            self.seen.append(line)
            if predicate(line):
                return line

    def states(self) -> list[str]:
        """The session's states so far, in order."""
        return [line["state"] for line in self.seen if "state" in line and "runner_done" not in line]

    def close(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        kill_marked(self.state_dir)


def test_a_frozen_supervisor_s_worker_fences_itself_and_is_not_restarted(
        tmp_path: Path, server: PageServer) -> None:
    lease_s = 4.0  # renewed every 1.33 s; a worker's lease: 3 s from each renewal
    holder = Holder(tmp_path, server.url("/"), lease_s)
    try:
        working = holder.wait_line(lambda line: line.get("state") == "WORKING", 60, "WORKING")
        tree = process_tree(working["chrome_pid"])
        worker_pid = working["worker_pid"]
        # Renewed through two lease periods and more, the session stays WORKING.
        holder.wait_line(lambda line: line.get("renewals", 0) >= 2 * 3 + working["renewals"], 30,
                         "two lease periods of renewals")
        assert holder.states() == ["STARTING", "WORKING"]
        assert all(line["told"] == 1 for line in holder.seen if line.get("renewals", 0) > working["renewals"])

        os.kill(holder.proc.pid, signal.SIGSTOP)
        wait_until(lambda: not any(process_alive(p) for p in tree), lease_s + 20,
                   message="Chrome's tree gone while the supervisor is frozen")
        wait_until(lambda: not pid_alive(worker_pid), 10, message="the worker gone (or a zombie)")
        assert psutil.Process(holder.proc.pid).status() == psutil.STATUS_STOPPED  # still frozen
        os.kill(holder.proc.pid, signal.SIGCONT)

        failed = holder.wait_line(lambda line: line.get("state") == "FAILED", 30, "FAILED")
        assert failed["reason"].startswith("fenced"), failed
        hooked = holder.wait_line(lambda line: "fenced" in line, 10, "the on_fenced hook")
        assert hooked["fenced"] == failed["reason"]
        done = holder.wait_line(lambda line: "runner_done" in line, 10, "the runner's end")
        # Not restarted, not counted as a crash, the breaker untouched.
        assert done == {"runner_done": True, "state": "FAILED", "restarts": 0, "breaker_trips": 0,
                        "last_error": failed["reason"]}
        assert holder.states() == ["STARTING", "WORKING", "FAILED"]
        assert not marked_processes(holder.state_dir)
    finally:
        holder.close()
    assert holder.proc.returncode == 0, holder.log_path.read_text(errors="replace")[-3000:]
