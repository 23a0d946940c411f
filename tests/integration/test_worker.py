"""The worker process end to end: real `python -m worker`, real Chrome, real socketpair."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import structlog
from pyppeteer.connection import CDPSession
from pyppeteer.errors import NetworkError

from tests.support.pages import PageServer
from tests.support.procs import (
    marked_processes,
    pid_alive,
    process_alive,
    process_tree,
    wait_until,
)
from tests.support.workerproc import REPO, WorkerProc, boot_args
from worker import protocol
from worker.browser import cdp
from worker.browser.chrome import LaunchOptions, build_args
from worker.browser.executable import find_executable, resolve_wrapper
from worker.browser.stderr import StderrDrain
from worker.errors import ChromeNotFound

HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")


def assert_nothing_left(state_dir: Path, tree: list[psutil.Process], timeout: float = 5.0) -> None:
    """No marked process (workers, Chrome main) and nothing of the Chrome ``tree`` remains."""
    wait_until(lambda: not marked_processes(state_dir), timeout, message=f"no process marked with {state_dir}")
    wait_until(lambda: not any(process_alive(p) for p in tree), timeout, message="Chrome tree gone")


def boot_working(
    worker: WorkerProc, state_dir: Path, url: str, **overrides: object
) -> tuple[dict[str, Any], list[psutil.Process]]:
    """Boot and wait for WORKING; returns the boot result and Chrome's process tree."""
    reply = worker.boot(boot_args(state_dir, worker.session, url, **overrides))
    assert reply["ok"], f"{reply}\n{worker.log_tail()}"
    worker.wait_event(protocol.EV_STATE, 30, state=protocol.WorkerState.STARTING)
    worker.wait_event(protocol.EV_STATE, 30, state=protocol.WorkerState.WORKING)
    tree = process_tree(reply["result"]["chrome_pid"])
    assert len(tree) >= 2, tree  # browser and renderer at least ([chrome] lean: no zygotes, GPU, network)
    return reply["result"], tree


@pytest.mark.chrome
def test_boot_heartbeat_stop(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    result, tree = boot_working(worker, state_dir, server.url("/"))
    chrome_pid = result["chrome_pid"]
    assert isinstance(chrome_pid, int) and pid_alive(chrome_pid)
    assert result["executable"] == str(HEADLESS_SHELL)  # the wrapper script was resolved
    assert "Chrome" in str(result["browser_version"])
    # A page probe sent while the first navigation commits is lost (Chrome drops it): the
    # beat in flight at WORKING may say null. From the first answered probe on, all answer.
    first = worker.wait_message(
        lambda m: m.get("event") == protocol.EV_HEARTBEAT and m["data"]["cdp_rtt_ms"] is not None, 10, "answered probe"
    )
    beats = [first["data"], *(worker.wait_event(protocol.EV_HEARTBEAT, 10) for _ in range(2))]
    assert [beat["seq"] for beat in beats] == list(range(beats[0]["seq"], beats[0]["seq"] + 3))
    for beat in beats:
        assert isinstance(beat["cdp_rtt_ms"], float) and beat["cdp_rtt_ms"] >= 0, beat
        # Tiny: liveness and the latest probe results, never a measurement of processes.
        assert set(beat) == {"seq", "cdp_rtt_ms", "browser_rtt_ms", "probe_failures", "page_stalled_s"}
        assert beat["probe_failures"] == 0 and beat["page_stalled_s"] == 0.0
        assert len(protocol.encode(protocol.make_event(protocol.EV_HEARTBEAT, beat))) < 200
    unknown = worker.request("no_such_op")
    assert not unknown["ok"] and unknown["error"]["type"] == protocol.WorkerErrorType.UNKNOWN_OPERATION
    assert worker.request(protocol.OP_STOP) == protocol.make_reply(worker._next_id - 1, {})
    assert worker.wait_exit(8) == protocol.EXIT_OK
    exiting = [m for m in worker.drain() if m.get("event") == protocol.EV_EXITING]
    assert exiting and exiting[0]["data"] == {"code": 0, "kind": protocol.ExitKind.STOP, "reason": "stop requested"}
    assert not pid_alive(chrome_pid)
    assert_nothing_left(state_dir, tree, timeout=1)


@pytest.mark.chrome
def test_kill_9_of_worker_takes_chrome_down(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    _, tree = boot_working(worker, state_dir, server.url("/"))
    assert tree[0].exe() == str(HEADLESS_SHELL)  # the real binary, not the wrapper script
    worker.proc.kill()
    assert_nothing_left(state_dir, tree, timeout=5)


@pytest.mark.chrome
def test_socket_eof_stops_worker_and_chrome(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    result, tree = boot_working(worker, state_dir, server.url("/"))
    worker.sock.close()  # the supervisor is gone
    assert worker.wait_exit(8) == protocol.EXIT_OK
    assert not pid_alive(result["chrome_pid"])
    assert_nothing_left(state_dir, tree, timeout=2)


@pytest.mark.chrome
def test_sigterm_stops_gracefully(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    _, tree = boot_working(worker, state_dir, server.url("/"))
    worker.proc.send_signal(signal.SIGTERM)
    exiting = worker.wait_event(protocol.EV_EXITING, 8)
    assert exiting == {"code": 0, "kind": protocol.ExitKind.STOP, "reason": "signal SIGTERM"}
    assert worker.wait_exit(5) == protocol.EXIT_OK
    assert_nothing_left(state_dir, tree, timeout=2)


_FAKE_SUPERVISOR = """
import json, sys
from pathlib import Path
from tests.support.workerproc import REPO, WorkerProc, boot_args
state, url = Path(sys.argv[1]), sys.argv[2]
worker = WorkerProc(state, "s1")
reply = worker.boot(boot_args(state, "s1", url))
worker.wait_event("state", 30, state="WORKING")
print(json.dumps({"worker": worker.proc.pid, "chrome": reply["result"]["chrome_pid"]}), flush=True)
sys.stdin.read()  # until killed
"""


@pytest.mark.chrome
def test_kill_9_of_supervisor_takes_worker_and_chrome_down(state_dir: Path, server: PageServer) -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _FAKE_SUPERVISOR, str(state_dir), server.url("/")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip
    try:
        assert supervisor.stdout is not None
        line = supervisor.stdout.readline()  # bounded by the fake supervisor's own timeouts
        pids = json.loads(line)
        tree = process_tree(pids["chrome"])
        assert len(tree) >= 2 and {p.pid for p in marked_processes(state_dir)} == {pids["worker"], pids["chrome"]}
        supervisor.kill()
        supervisor.wait(timeout=5)
        assert_nothing_left(state_dir, tree, timeout=5)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        supervisor.wait(timeout=5)


@pytest.mark.chrome
def test_frozen_chrome_is_reported_by_the_beats_that_keep_coming(
        spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    """The worker reports a Chrome that stopped answering (failed probe rounds, counted); the
    verdict is the supervisor's (tests/integration/test_sessions.py), so the worker stays."""
    worker = spawn()
    result, tree = boot_working(worker, state_dir, server.url("/"), close_timeout_s=2.0)
    chrome_pid = result["chrome_pid"]
    os.kill(chrome_pid, signal.SIGSTOP)  # CDP pipe open, nobody answering
    try:
        beat = worker.wait_message(lambda m: m.get("event") == protocol.EV_HEARTBEAT
                                   and m["data"]["probe_failures"] >= 3, 30, "three failed rounds")
        assert beat["data"]["cdp_rtt_ms"] is None and beat["data"]["browser_rtt_ms"] is None
        assert beat["data"]["page_stalled_s"] > 0
        assert worker.proc.poll() is None  # the worker itself does not decide
    finally:
        os.kill(chrome_pid, signal.SIGCONT)
    assert worker.request(protocol.OP_STOP)["ok"]
    assert worker.wait_exit(15) == protocol.EXIT_OK
    assert_nothing_left(state_dir, tree, timeout=2)


@pytest.mark.chrome
def test_stop_during_boot_answers_both_requests(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    worker.send(protocol.make_request(1, protocol.OP_BOOT, boot_args(state_dir, "s1", server.url("/"))))
    worker.send(protocol.make_request(2, protocol.OP_STOP))
    assert worker.wait_exit(10) == protocol.EXIT_OK
    messages = worker.drain()
    replies = {m["id"]: m for m in messages if "ok" in m}
    assert sorted(replies) == [1, 2] and len([m for m in messages if "ok" in m]) == 2, messages
    assert replies[2]["ok"]
    assert replies[1]["ok"] or replies[1]["error"]["type"] == protocol.WorkerErrorType.WORKER_STOPPING, replies[1]
    assert messages[-1] == protocol.make_event(protocol.EV_EXITING, {"code": 0, "kind": protocol.ExitKind.STOP,
                                                                     "reason": "stop requested"})
    wait_until(lambda: not marked_processes(state_dir), 5, message="no Chrome left")


@pytest.mark.chrome
def test_stop_during_page_load(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    reply = worker.boot(boot_args(state_dir, "s1", server.url("/hang"), close_timeout_s=3.0))
    assert reply["ok"], reply
    tree = process_tree(reply["result"]["chrome_pid"])
    worker.wait_event(protocol.EV_STATE, 10, state=protocol.WorkerState.STARTING)
    assert worker.request(protocol.OP_STOP)["ok"]
    assert worker.wait_exit(3.0 + 3) == protocol.EXIT_OK
    assert_nothing_left(state_dir, tree, timeout=1)


@pytest.mark.chrome
def test_second_sigterm_cuts_the_graceful_wait(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    _, tree = boot_working(worker, state_dir, server.url("/"), close_timeout_s=60.0)
    tree[0].suspend()  # Chrome will not obey Browser.close: only the ladder can end it
    worker.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "worker.stopping" in worker.log_path.read_text(), 5, message="shutdown started")
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait_exit(10) == protocol.EXIT_OK  # not the 60 s graceful budget
    assert_nothing_left(state_dir, tree, timeout=2)


def test_missing_executable_is_a_boot_failure(spawn: Callable[..., WorkerProc], state_dir: Path) -> None:
    worker = spawn()
    reply = worker.boot(boot_args(state_dir, "s1", "http://127.0.0.1:9/", chrome_executable="/nonexistent/chrome"))
    assert not reply["ok"] and reply["error"]["type"] == protocol.WorkerErrorType.CHROME_NOT_FOUND, reply
    assert "/nonexistent/chrome" in reply["error"]["message"]
    exiting = worker.wait_event(protocol.EV_EXITING, 10)
    assert exiting["code"] == protocol.EXIT_BOOT_FAILURE and exiting["kind"] == protocol.ExitKind.BOOT_FAILURE
    assert worker.wait_exit(10) == protocol.EXIT_BOOT_FAILURE


@pytest.mark.chrome
def test_stale_singleton_lock_is_removed(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    args = boot_args(state_dir, "s1", server.url("/"))
    profile = Path(args["profile_dir"])
    profile.mkdir(parents=True)
    for name in ("SingletonLock", "SingletonSocket", "SingletonCookie"):
        (profile / name).symlink_to("otherhost-999999")
    scratch = Path(args["tmp_dir"])
    (scratch / "old-crash-dir").mkdir(parents=True)
    (scratch / "old-crash-file").write_text("stale")
    worker = spawn()
    reply = worker.boot(args)
    assert reply["ok"], reply
    worker.wait_event(protocol.EV_STATE, 30, state=protocol.WorkerState.WORKING)
    assert not (scratch / "old-crash-dir").exists() and not (scratch / "old-crash-file").exists()
    chrome_env = psutil.Process(reply["result"]["chrome_pid"]).environ()
    assert chrome_env["TMPDIR"] == args["tmp_dir"]
    assert (chrome_env[protocol.STATE_DIR_ENV], chrome_env[protocol.SESSION_ENV]) == (str(state_dir), "s1")
    for name in ("SingletonLock", "SingletonSocket", "SingletonCookie"):
        path = profile / name
        assert not path.is_symlink() or os.readlink(path) != "otherhost-999999", name
    assert (profile.stat().st_mode & 0o777) == 0o700


@pytest.mark.chrome
def test_profile_used_by_foreign_process_is_refused(spawn: Callable[..., WorkerProc], state_dir: Path, tmp_path: Path) -> None:
    args = boot_args(state_dir, "s1", "about:blank")
    profile = Path(args["profile_dir"])
    profile.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPVISOR_")}  # a foreign Chrome
    foreign = subprocess.Popen(
        [str(HEADLESS_SHELL), "--no-sandbox", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: pid_alive(foreign.pid), 5, message="foreign Chrome running")
        worker = spawn()
        reply = worker.boot(args)
        assert not reply["ok"] and reply["error"]["type"] == protocol.WorkerErrorType.PROFILE_UNUSABLE, reply
        assert f"in use by pid {foreign.pid}" in reply["error"]["message"]
        assert worker.wait_exit(10) == protocol.EXIT_BOOT_FAILURE
        assert foreign.poll() is None, "the foreign Chrome must not be killed"
    finally:
        os.killpg(foreign.pid, signal.SIGKILL)
        foreign.wait(timeout=10)


@pytest.mark.chrome
def test_own_orphan_chrome_on_profile_is_closed(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    """A Chrome carrying this session's markers is a dead worker's orphan: replaced, not refused."""
    args = boot_args(state_dir, "s1", server.url("/"))
    profile = Path(args["profile_dir"])
    profile.mkdir(parents=True)
    env = {**os.environ, protocol.STATE_DIR_ENV: str(state_dir), protocol.SESSION_ENV: "s1"}
    orphan = subprocess.Popen(
        [str(HEADLESS_SHELL), "--no-sandbox", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, start_new_session=True,
    )  # fmt: skip
    wait_until(lambda: pid_alive(orphan.pid), 5, message="orphan Chrome running")
    worker = spawn()
    reply = worker.boot(args)
    assert reply["ok"], f"{reply}\n{worker.log_tail()}"
    assert orphan.wait(timeout=5) is not None
    assert reply["result"]["chrome_pid"] != orphan.pid


@pytest.mark.chrome
def test_chrome_killed_reports_chrome_exited(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    result, tree = boot_working(worker, state_dir, server.url("/"))
    os.kill(result["chrome_pid"], signal.SIGKILL)
    event = worker.wait_event(protocol.EV_CHROME_EXITED, 10)
    assert event == {"returncode": -signal.SIGKILL}
    exiting = worker.wait_event(protocol.EV_EXITING, 10)
    assert exiting["code"] == protocol.EXIT_CRASH and "Chrome exited" in exiting["reason"]
    assert exiting["kind"] == protocol.ExitKind.CHROME_EXITED
    assert worker.wait_exit(10) == protocol.EXIT_CRASH
    assert_nothing_left(state_dir, tree, timeout=2)  # zygotes and renderers swept too


@pytest.mark.chrome
def test_page_load_timeout_is_a_crash(spawn: Callable[..., WorkerProc], state_dir: Path, server: PageServer) -> None:
    worker = spawn()
    reply = worker.boot(boot_args(state_dir, "s1", server.url("/hang"), page_timeout_s=1.5))
    assert reply["ok"], reply
    tree = process_tree(reply["result"]["chrome_pid"])
    exiting = worker.wait_event(protocol.EV_EXITING, 15)
    assert exiting["code"] == protocol.EXIT_CRASH and "driver crashed" in exiting["reason"], exiting
    assert exiting["kind"] == protocol.ExitKind.DRIVER_FAILED
    assert not any(m.get("data", {}).get("state") == protocol.WorkerState.WORKING for m in worker.seen)
    assert worker.wait_exit(10) == protocol.EXIT_CRASH
    assert_nothing_left(state_dir, tree, timeout=2)


@pytest.mark.chrome
def test_profile_path_that_is_a_file_is_refused(spawn: Callable[..., WorkerProc], state_dir: Path) -> None:
    args = boot_args(state_dir, "s1", "about:blank")
    Path(args["profile_dir"]).parent.mkdir(parents=True)
    Path(args["profile_dir"]).write_text("not a directory")
    worker = spawn()
    reply = worker.boot(args, timeout=10)
    assert not reply["ok"] and reply["error"]["type"] == protocol.WorkerErrorType.PROFILE_UNUSABLE, reply
    assert "not a directory" in reply["error"]["message"]
    assert worker.wait_exit(10) == protocol.EXIT_BOOT_FAILURE


def test_worker_imports_neither_aiohttp_nor_supervisor() -> None:
    code = (
        "import sys, worker.main, worker.__main__\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'supervisor'))\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_invalid_first_frame_exits(spawn: Callable[..., WorkerProc]) -> None:
    worker = spawn()
    body = b"{not json"
    worker.send_raw(len(body).to_bytes(4, "big") + body)
    code = worker.wait_exit(10)
    assert code != 0
    exiting = [m for m in worker.drain() if m.get("event") == protocol.EV_EXITING]
    assert exiting and exiting[0]["data"]["code"] == code


def test_first_request_must_be_boot(spawn: Callable[..., WorkerProc]) -> None:
    worker = spawn()
    reply = worker.request(protocol.OP_SEND_TEXT, {"to": "1@c.us", "text": "hi"}, timeout=10)
    assert not reply["ok"] and reply["error"]["type"] == protocol.WorkerErrorType.BAD_BOOT_SPEC, reply
    assert worker.wait_exit(10) == protocol.EXIT_BOOT_FAILURE


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [({"heartbeat_interval_s": "fast"}, "heartbeat_interval_s"), ({"session_id": "other"}, "'other'")],
)
def test_boot_spec_is_validated(
    spawn: Callable[..., WorkerProc], state_dir: Path, overrides: dict[str, Any], complaint: str
) -> None:
    worker = spawn()
    reply = worker.boot(boot_args(state_dir, "s1", "about:blank", **overrides), timeout=10)
    assert not reply["ok"] and reply["error"]["type"] == protocol.WorkerErrorType.BAD_BOOT_SPEC, reply
    assert complaint in reply["error"]["message"], reply
    assert worker.wait_exit(10) == protocol.EXIT_BOOT_FAILURE


def test_wrapper_script_resolves_to_real_binary(tmp_path: Path) -> None:
    script = tmp_path / "chromium-headless-shell"
    script.write_text(f'#!/bin/sh -e\n\nexec {HEADLESS_SHELL} "$@"\n')
    script.chmod(0o755)
    assert resolve_wrapper(script) == HEADLESS_SHELL
    assert find_executable(str(script)) == HEADLESS_SHELL
    assert resolve_wrapper(HEADLESS_SHELL) == HEADLESS_SHELL  # an ELF binary is itself
    with_vars = tmp_path / "chromium"
    with_vars.write_text(f"#!/bin/sh\nLIBDIR={HEADLESS_SHELL.parent}\nAPP=chromium-headless-shell\nexec $LIBDIR/$APP \"$@\"\n")
    with_vars.chmod(0o755)
    assert resolve_wrapper(with_vars) == HEADLESS_SHELL


def test_wrapper_script_without_binary_is_not_found(tmp_path: Path) -> None:
    script = tmp_path / "chrome"
    script.write_text("#!/bin/sh\nexec /nonexistent/chrome \"$@\"\n")
    script.chmod(0o755)
    with pytest.raises(ChromeNotFound):
        find_executable(str(script))
    with pytest.raises(ChromeNotFound):
        find_executable(str(tmp_path / "missing"))
    not_executable = tmp_path / "plain"
    not_executable.write_bytes(b"\x7fELF")
    with pytest.raises(ChromeNotFound):
        find_executable(str(not_executable))


def test_chrome_arguments() -> None:
    def options(executable: str, headless: bool = True, user_agent: str = "") -> LaunchOptions:
        return LaunchOptions(Path(executable), "/p", "/t", headless, user_agent, ("--lang=pt-PT",))

    shell = build_args(options("/usr/lib/chromium/chromium-headless-shell", user_agent="UA/1"))
    assert shell[0] == "/usr/lib/chromium/chromium-headless-shell" and shell[-1] == "about:blank"
    assert "--user-data-dir=/p" in shell and "--remote-debugging-pipe" in shell
    assert not any(arg.startswith("--remote-debugging-port") for arg in shell)  # no TCP DevTools
    assert "--disable-component-update" in shell and "--user-agent=UA/1" in shell and "--lang=pt-PT" in shell
    assert not any(arg.startswith("--headless") for arg in shell)  # headless-shell is always headless
    assert ("--no-sandbox" in shell) == (os.geteuid() == 0)
    assert "--headless=new" in build_args(options("/usr/lib/chromium/chromium"))
    assert "--headless=new" not in build_args(options("/usr/lib/chromium/chromium", headless=False))


def test_stderr_drain_survives_bad_bytes_and_rate_limits() -> None:
    read_fd, write_fd = os.pipe()
    lines = [b"noise \xff\xfe not utf-8\n"] * 30
    with structlog.testing.capture_logs() as captured:
        drain = StderrDrain(os.fdopen(read_fd, "rb"))
        drain.start()
        with os.fdopen(write_fd, "wb") as writer:
            writer.write(b"".join(lines) + b"last line without newline")
        drain.join(timeout=5)
    assert not drain.is_alive()  # EOF ends the thread
    assert "\ufffd" in drain.tail() and drain.tail().endswith("last line without newline")
    logged = [entry for entry in captured if entry["event"] == "chrome.stderr"]
    assert len(logged) == 20  # the burst limit of one window; the rest are only counted


@pytest.mark.asyncio
async def test_pyppeteer_hardening_tolerates_cancelled_cdp_calls() -> None:
    """Unpatched, each step below raises InvalidStateError inside pyppeteer's receive loop."""
    cdp._harden_pyppeteer()
    loop = asyncio.get_running_loop()

    def call(cancelled: bool) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        future.error = NetworkError()  # type: ignore[attr-defined]  # as CDPSession.send does
        future.method = "Runtime.evaluate"  # type: ignore[attr-defined]
        if cancelled:
            future.cancel()  # what asyncio.wait_for does to a probe that timed out
        return future

    session = CDPSession(None, "page", "session-1", loop)  # type: ignore[arg-type]
    session._callbacks[1] = call(cancelled=True)
    session._on_message(json.dumps({"id": 1, "error": {"message": "late answer"}}))
    waiting = call(cancelled=False)
    session._callbacks.update({2: waiting, 3: call(cancelled=True)})
    session._on_closed()
    assert isinstance(waiting.exception(), NetworkError)  # the live caller still hears of it
