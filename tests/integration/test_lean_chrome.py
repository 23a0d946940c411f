"""[chrome] lean: a session with the lean defaults runs on the WhatsApp simulator's page end to
end (both builds), its Chrome really is the lean one (no zygote, GPU or network process), and
every process of that tree is gone after a stop and after its worker is killed; lean = [] gives
Chrome's own process model back, and js_heap_max_mb reaches V8."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.pages import PageServer
from tests.support.procs import pid_alive, process_tree, wait_until
from tests.support.wa import (
    CONTACT,
    PHONE_A,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome

ROOT = os.geteuid() == 0  # Chrome runs without its sandbox, so no-zygote applies


def chrome_tree(d: Daemon, session_id: str) -> dict[int, list[str]]:
    """pid -> command line of every process of the session's Chrome."""
    tree = process_tree(int(d.session(session_id)["chrome_pid"]))
    return {proc.pid: proc.cmdline() for proc in tree}


def kinds(tree: dict[int, list[str]]) -> list[str]:
    """The --type= of each process ("browser" for the main one), sorted."""
    found = []
    for cmdline in tree.values():
        types = [arg.partition("=")[2] for arg in cmdline if arg.startswith("--type=")]
        found.append(types[0] if types else "browser")
    return sorted(found)


def all_gone(pids: list[int]) -> bool:
    return not any(pid_alive(pid) for pid in pids)


def test_lean_defaults_run_whatsapp_end_to_end(workdir: Path, free_port: int,
                                               sim_each_build: RunningSimulator) -> None:
    sim = sim_each_build
    with serving(wa_daemon(workdir, free_port, sim)) as d:
        d.client.post("/api/sessions", {"id": "lean"})
        assert login(d, sim, "lean", PHONE_A)["phone_number"] == PHONE_A
        tree = chrome_tree(d, "lean")
        browser = tree[int(d.session("lean")["chrome_pid"])]
        for flag in ("--in-process-gpu", "--enable-features=NetworkServiceInProcess2",
                     "--js-flags=--optimize-for-size"):
            assert flag in browser
        assert [arg for arg in browser if arg.startswith("--disable-features=")][0].count("BackForwardCache") == 1
        assert ("--no-zygote" in browser) == ROOT
        # No GPU process, no network service process, and (as root) no zygotes: the browser
        # and the page's renderer (plus whatever utility the page itself needs).
        assert "gpu-process" not in kinds(tree)
        assert ("zygote" in kinds(tree)) == (not ROOT)
        assert not [c for c in tree.values() if "--utility-sub-type=network.mojom.NetworkService" in c]

        # The page works: send, receive.
        sent = d.client.post("/api/sessions/lean/messages", {"to": CONTACT, "text": "lean"})
        assert [(m["id"], m["body"]) for m in sim.sent(phone=PHONE_A)] == [(sent["id"], "lean")]
        hello = sim.incoming(f"{CONTACT}@c.us", "hi", phone=PHONE_A)
        wait_event(d, lambda e: e["payload"]["id"] == hello["id"], "message", session="lean")

        # Stopped: the close ladder leaves nothing of the tree; started again it is logged in
        # (the profile was flushed on the way out).
        d.client.post("/api/sessions/lean/stop")
        d.wait_state("lean", "STOPPED")
        wait_until(lambda: all_gone(list(tree)), timeout=20, message="the stopped session's Chrome tree gone")
        d.client.post("/api/sessions/lean/start")
        assert d.wait_state("lean", "WORKING")["phone_number"] == PHONE_A

        # The worker killed: its whole Chrome tree goes too; the session comes back, logged in.
        tree = chrome_tree(d, "lean")
        worker = int(d.session("lean")["worker_pid"])
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: all_gone(list(tree)), timeout=20, message="the killed worker's Chrome tree gone")
        wait_until(lambda: d.session("lean")["worker_pid"] not in (None, worker), timeout=30,
                   message="a new worker")
        assert d.wait_state("lean", "WORKING")["phone_number"] == PHONE_A


def test_lean_off_is_chromes_own_and_the_heap_cap_reaches_v8(workdir: Path, free_port: int) -> None:
    with PageServer() as pages:
        d = Daemon(workdir, free_port, pages.url("/heap"), chrome={
            "lean": [], "js_heap_max_mb": 1024, "extra_args": ["--js-flags=--expose-gc"]})
        with serving(d):
            d.client.post("/api/sessions", {"id": "own"})
            d.wait_state("own", "WORKING")
            tree = chrome_tree(d, "own")
            browser = tree[int(d.session("own")["chrome_pid"])]
            assert "--in-process-gpu" not in browser and "--no-zygote" not in browser
            assert [arg for arg in browser if arg.startswith("--js-flags")] == [
                "--js-flags=--max-old-space-size=1024 --expose-gc"]
            assert "zygote" in kinds(tree)  # Chrome's own process model
            # V8 in the page's renderer took the cap: Chrome reports its heap limit rounded
            # (1.2e9 for this 1 GiB cap; 3.76e9 for V8's own here).
            wait_until(lambda: pages.heap_limits, timeout=10, message="the page's heap limit")
            assert 1024 * 2**20 <= pages.heap_limits[0] < 2 * 10**9, pages.heap_limits
            d.client.post("/api/sessions/own/stop")
            d.wait_state("own", "STOPPED")
            wait_until(lambda: all_gone(list(tree)), timeout=20, message="Chrome's tree gone")
