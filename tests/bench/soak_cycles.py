"""Soak: create/stop/delete cycles against a real daemon, printing what could leak.

    .venv/bin/python tests/bench/soak_cycles.py [--cycles 1000] [--chrome-every 50]

Every cycle creates a session (stopped), stops and deletes it; every ``--chrome-every``
cycles one also starts a real Chrome and waits for WORKING. Prints the daemon's fds, threads
and RSS at the start and the end, leftover session directories and marked processes.
(The test suite runs a scaled-down version: tests/integration/test_faults.py.)
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.daemon import Daemon  # noqa: E402
from tests.support.pages import PageServer  # noqa: E402
from tests.support.procs import kill_marked, marked_processes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--chrome-every", type=int, default=50)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    work = Path(tempfile.mkdtemp(prefix="zapsoak-")).resolve()
    with PageServer() as pages:
        d = Daemon(work, port, pages.url("/"), logging={"level": "warning"})
        d.start()
        proc = psutil.Process(d.proc.pid)  # type: ignore[union-attr]
        try:
            def sample() -> str:
                return (f"fds={proc.num_fds()} threads={proc.num_threads()} "
                        f"rss={proc.memory_info().rss / 2**20:.1f}MB")

            print("start:", sample(), flush=True)
            started = time.monotonic()
            for i in range(args.cycles):
                with_chrome = args.chrome_every and i % args.chrome_every == 0
                d.client.post("/api/sessions", {"id": f"c{i}", "start": bool(with_chrome)})
                if with_chrome:
                    d.wait_state(f"c{i}", "WORKING")
                d.client.post(f"/api/sessions/c{i}/stop")
                d.client.delete(f"/api/sessions/c{i}")
                if (i + 1) % 100 == 0:
                    print(f"{i + 1:>5} cycles, {time.monotonic() - started:6.1f}s:", sample(), flush=True)
            left_dirs = list((d.state_dir / "sessions").iterdir())
            print("end:", sample(), f"session dirs left={len(left_dirs)}",
                  f"marked processes left={len(marked_processes(d.state_dir))}")
        finally:
            d.stop()
            kill_marked(d.state_dir)


if __name__ == "__main__":
    main()
