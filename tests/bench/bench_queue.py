"""Benchmark: the send queue's throughput with pacing and limits off, for one session and for
several at once, on the real daemon, workers and Chrome (the simulator plays WhatsApp).

Each send is stored (SQLite), given its id by the page, stored again, sent by the page and
stored a third time: this measures that path, not WhatsApp. Prints messages per second per
session and over all sessions, and how fast requests are answered (202, queued). Run:

    .venv/bin/python tests/bench/bench_queue.py [--sessions 10] [--messages 100]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.daemon import Daemon  # noqa: E402
from tests.support.procs import kill_marked, wait_until  # noqa: E402
from tests.support.wa import FAST_SIM, login, wa_daemon  # noqa: E402
from tests.wasim import run_simulator  # noqa: E402


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _submit(d: Daemon, session: str, count: int, latencies: list[float]) -> None:
    for i in range(count):
        started = time.perf_counter()
        status, _, body = d.call("POST", f"/api/sessions/{session}/messages?wait=false",
                                 {"to": f"55119{i % 50:08d}", "text": f"bench {i}"})
        latencies.append(time.perf_counter() - started)
        assert status == 202, body


def _open(d: Daemon, sessions: list[str]) -> int:
    return sum(d.client.get(f"/api/sessions/{s}/queue?limit=1")["depth"] for s in sessions)


def _run(d: Daemon, sessions: list[str], count: int) -> dict[str, Any]:
    """Queue ``count`` sends on each session at once (a thread per session); the figures."""
    latencies: list[float] = []
    started = time.perf_counter()
    threads = [threading.Thread(target=_submit, args=(d, s, count, latencies)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queued = time.perf_counter() - started
    wait_until(lambda: _open(d, sessions) == 0, timeout=600, interval=0.1, message="queues drained")
    elapsed = time.perf_counter() - started
    total = count * len(sessions)
    latencies.sort()
    return {"sessions": len(sessions), "messages": total, "seconds": elapsed,
            "per_s": total / elapsed, "per_session_per_s": count / elapsed,
            "queued_s": queued, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--messages", type=int, default=100, help="per session")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, run_simulator(ref_ttl_s=60.0, **FAST_SIM) as sim:
        d = wa_daemon(Path(tmp), _port(), sim, sessions={"max_concurrent_starts": 4})
        d.start()
        try:
            names = [f"s{i}" for i in range(args.sessions)]
            for i, name in enumerate(names):
                d.client.post("/api/sessions", {"id": name})
                login(d, sim, name, f"24492978{i:04d}")
            one = _run(d, names[:1], args.messages)
            many = _run(d, names, args.messages)
        finally:
            d.stop()
            kill_marked(d.state_dir)
    for label, r in (("1 session", one), (f"{args.sessions} sessions", many)):
        print(f"{label:>12}: {r['messages']} sends in {r['seconds']:.1f} s = {r['per_s']:.1f} msg/s "
              f"({r['per_session_per_s']:.1f} per session); queueing answered p50 {r['p50_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms")
    print(f"aggregate {args.sessions} sessions / 1 session: {many['per_s'] / one['per_s']:.2f}x; "
          f"per session: {many['per_session_per_s'] / one['per_session_per_s']:.2f}x")


if __name__ == "__main__":
    main()
