"""What other local users can reach of a session's Chrome, or do to it: no DevTools port (CDP
runs over a pipe only the worker holds), nothing inherited from the worker but Chrome's own pipe
ends, no way to make its profile look "in use", and no way in for the page's other scripts to
the worker's binding or script."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.support.pages import PageServer
from tests.support.procs import process_tree, wait_until
from tests.support.workerproc import WorkerProc, boot_args, whatsapp_args
from worker import protocol

pytestmark = pytest.mark.chrome


def _boot(worker: WorkerProc, url: str) -> int:
    state = Path(worker.log_path).parent
    reply = worker.boot(boot_args(state, worker.session, url))
    assert reply["ok"], f"{reply}\n{worker.log_tail()}"
    worker.wait_event(protocol.EV_STATE, 30, state=protocol.WorkerState.WORKING)
    return int(reply["result"]["chrome_pid"])


def _fd_targets(pid: int) -> dict[int, str]:
    targets = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
    return targets


def test_chrome_listens_on_no_tcp_port_and_speaks_cdp_over_its_pipe(
        spawn: Callable[[], WorkerProc], server: PageServer) -> None:
    worker = spawn()
    chrome_pid = _boot(worker, server.url("/"))
    tree = process_tree(chrome_pid)
    assert len(tree) >= 2, tree  # browser and renderer at least
    listening = [(proc.pid, proc.name(), conn.laddr) for proc in tree
                 for conn in proc.net_connections(kind="inet")
                 if conn.status == psutil.CONN_LISTEN or conn.type == socket.SOCK_DGRAM]
    assert listening == [], "a process of the session's Chrome listens on the network"
    cmdline = tree[0].cmdline()
    assert "--remote-debugging-pipe" in cmdline
    assert not any(arg.startswith(("--remote-debugging-port", "--remote-debugging-address"))
                   for arg in cmdline)
    # Chrome holds the two pipe ends at fds 3 and 4, and nothing of the worker's: not the
    # worker's socket to the supervisor, which Chrome could otherwise write frames to.
    chrome_fds = _fd_targets(chrome_pid)
    assert chrome_fds[3].startswith("pipe:") and chrome_fds[4].startswith("pipe:")
    worker_argv = psutil.Process(worker.proc.pid).cmdline()
    control = _fd_targets(worker.proc.pid)[int(worker_argv[worker_argv.index("--fd") + 1])]
    assert control.startswith("socket:")
    assert all(control not in _fd_targets(proc.pid).values() for proc in tree)
    # CDP over the pipe: heartbeats carry both round trips; stop is Browser.close, not a signal.
    beat = worker.wait_message(lambda m: m.get("event") == protocol.EV_HEARTBEAT
                               and m["data"]["cdp_rtt_ms"] is not None
                               and m["data"]["browser_rtt_ms"] is not None, 15, "probed beat")
    assert beat["data"]["browser_rtt_ms"] >= 0
    assert worker.request(protocol.OP_STOP)["ok"]
    assert worker.wait_exit(10) == protocol.EXIT_OK
    assert '"how": "exited"' in worker.log_path.read_text(), worker.log_tail()


def test_another_users_process_naming_the_profile_does_not_block_the_session(
        spawn: Callable[[], WorkerProc], server: PageServer, tmp_path: Path) -> None:
    """Any local user can put ``--user-data-dir=<our profile>`` on a command line; only our own
    user's processes can use the (0700) profile, so only they may make it "in use"."""
    assert os.geteuid() == 0, "the suite runs as root (as CI does): it starts a process as nobody"
    worker = spawn()
    profile = tmp_path / "state" / "sessions" / "s1" / "profile"
    squatter = subprocess.Popen(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c",
         "import time; time.sleep(60)", f"--user-data-dir={profile}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # setpriv itself (still root) carries the same command line for a moment: wait for the
        # process to be the other user's.
        wait_until(lambda: psutil.Process(squatter.pid).uids().real != os.geteuid(), 5,
                   message="the other user's process")
        assert f"--user-data-dir={profile}" in psutil.Process(squatter.pid).cmdline()
        chrome_pid = _boot(worker, server.url("/"))
        assert chrome_pid != squatter.pid and squatter.poll() is None  # neither refused nor killed
    finally:
        squatter.kill()
        squatter.wait(timeout=10)


_HOSTILE = """<!doctype html><html><head><meta charset="utf-8"><title>hostile</title><script>
// Another script of the page, running as early as a page's script can: it looks for the
// worker's binding, tries to replace window.__zapvisor, forges a logout through anything found.
const found = Object.getOwnPropertyNames(window).filter((n) => /^__z/.test(n) && n !== '__zapvisor');
let replaced = false;
const fake = Object.freeze({ install: () => 'forged' });
try { window.__zapvisor = fake; } catch (e) { /* refused */ }
try { Object.defineProperty(window, '__zapvisor', { value: fake }); } catch (e) { /* refused */ }
replaced = window.__zapvisor === fake;
for (const name of found) {
  try { window[name](JSON.stringify({ type: 'logout', gen: 1 })); } catch (e) { /* ignore */ }
  try { window[name]({ type: 'logout', gen: 1 }); } catch (e) { /* ignore */ }
}
fetch('/report', { method: 'POST', body: JSON.stringify({ found, replaced, ours: typeof window.__zapvisor }) });
</script></head><body>hostile</body></html>"""


class _HostileSite(http.server.ThreadingHTTPServer):
    reports: list[dict[str, object]]


class _Hostile(http.server.BaseHTTPRequestHandler):
    server: _HostileSite

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = _HOSTILE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.server.reports.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_page_scripts_cannot_reach_the_binding_nor_replace_the_script(
        spawn: Callable[[], WorkerProc], tmp_path: Path) -> None:
    site = _HostileSite(("127.0.0.1", 0), _Hostile)
    site.reports = []
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        worker = spawn()
        url = f"http://127.0.0.1:{site.server_address[1]}/"
        reply = worker.boot(boot_args(tmp_path / "state", "s1", url,
                                      whatsapp=whatsapp_args(ready_timeout_s=20.0)))
        assert reply["ok"], f"{reply}\n{worker.log_tail()}"
        wait_until(lambda: site.reports, 15, message="the hostile script's report")
        assert site.reports[0] == {"found": [], "replaced": False, "ours": "object"}
        assert worker.request(protocol.OP_STOP)["ok"]
        assert not any(m.get("event") == protocol.EV_LOGOUT for m in [*worker.seen, *worker.drain()])
    finally:
        site.shutdown()
        site.server_close()
