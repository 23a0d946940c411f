"""Benchmark: N sessions created at once through zapvisor, against N bare Chrome launches.

Prints, for each N: seconds until all sessions are WORKING, PSS per session (Chrome tree +
worker), the supervisor's RSS; and the floor: the same page opened by N bare launches of the
same Chrome binary with the same flags (time until every page is loaded, PSS per Chrome tree).
Then the ratios. PSS per session includes its worker and a share of the zygote. Run from a checkout:

    .venv/bin/python tests/bench/bench_start.py [--sizes 1,10,20] [--concurrent-starts N]

``--concurrent-starts`` defaults to N (no queueing) so the comparison with N parallel bare
launches is like for like; pass a number to see the start queue's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pyppeteer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.daemon import Daemon  # noqa: E402
from tests.support.pages import PageServer  # noqa: E402
from tests.support.procs import kill_marked, wait_until  # noqa: E402
from worker.browser.chrome import LaunchOptions, build_args  # noqa: E402
from worker.browser.executable import find_executable  # noqa: E402
from worker.protocol import CHROME_LEAN_DEFAULT  # noqa: E402


def tree_pss(pid: int) -> int:
    """PSS of a process and all its descendants."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_zapvisor(n: int, url: str, concurrent: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="zapbench-")).resolve()
    d = Daemon(work, free_port(), url, sessions={"max_concurrent_starts": concurrent,
                                                 "max_sessions": max(n, 1)},
               logging={"level": "warning"})
    d.start()
    try:
        ids = [f"b{i:02d}" for i in range(n)]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(lambda s: d.client.post("/api/sessions", {"id": s}), ids))
        for session_id in ids:
            d.wait_state(session_id, "WORKING", timeout=300)
        elapsed = time.monotonic() - started
        wait_until(lambda: all(d.session(s)["memory_bytes"] for s in ids), timeout=30,
                   message="heartbeats")
        workers = [int(d.session(s)["worker_pid"]) for s in ids]
        pss = [tree_pss(pid) for pid in workers]
        assert d.proc is not None
        rss = psutil.Process(d.proc.pid).memory_info().rss
        # The zygote's own PSS is overhead of zapvisor too: spread it over the sessions.
        zygote = psutil.Process(workers[0]).ppid()
        if zygote != d.proc.pid:
            pss.append(psutil.Process(zygote).memory_full_info().pss)
        return {"seconds": elapsed, "pss_mb": sum(pss) / n / 2**20, "supervisor_rss_mb": rss / 2**20}
    finally:
        d.stop()
        kill_marked(d.state_dir)


async def _bare_one(binary: Path, profile: Path, url: str) -> tuple[subprocess.Popen[bytes], object]:
    args = build_args(LaunchOptions(binary, str(profile), str(profile) + "-tmp", True, "", (),
                                    CHROME_LEAN_DEFAULT))  # the flags of a default session
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    while True:
        line = (await asyncio.to_thread(proc.stderr.readline)).decode(errors="replace")
        if not line:
            raise RuntimeError("bare Chrome exited")
        match = re.search(r"DevTools listening on (ws://\S+)", line)
        if match:
            break
    # Keep draining, as the worker does, so Chrome never blocks on a full pipe. A thread of its
    # own: the loop's default executor is small and these reads never end.
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    browser = await pyppeteer.connect(browserWSEndpoint=match.group(1))
    page = (await browser.pages())[0]
    await page.goto(url, waitUntil="load")
    await page.evaluate("() => 1")
    return proc, browser


async def _bare(n: int, url: str) -> dict[str, float]:
    binary = find_executable("")
    base = Path(tempfile.mkdtemp(prefix="zapbench-bare-"))
    started = time.monotonic()
    results = await asyncio.gather(*(_bare_one(binary, base / f"p{i}", url) for i in range(n)))
    elapsed = time.monotonic() - started
    await asyncio.sleep(2)  # let every tree settle before sampling memory, as for zapvisor
    pss = [tree_pss(proc.pid) for proc, _ in results]
    for proc, browser in results:
        await browser.disconnect()  # type: ignore[attr-defined]
        proc.terminate()
    for proc, _ in results:
        proc.wait(10)
    return {"seconds": elapsed, "pss_mb": sum(pss) / n / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,20")
    parser.add_argument("--concurrent-starts", type=int, default=0, help="0 = N")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"host: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"Chrome: {find_executable('')}")
    header = (f"{'N':>3} {'zap s':>7} {'bare s':>7} {'ratio':>6} | {'zap PSS MB':>10} "
              f"{'bare PSS MB':>11} {'ratio':>6} | {'supervisor RSS MB':>17}")
    print(header)
    with PageServer() as pages:
        url = pages.url("/")
        for n in sizes:
            zap = bench_zapvisor(n, url, args.concurrent_starts or n)
            bare = asyncio.run(_bare(n, url))
            print(f"{n:>3} {zap['seconds']:>7.2f} {bare['seconds']:>7.2f} "
                  f"{zap['seconds'] / bare['seconds']:>6.2f} | {zap['pss_mb']:>10.1f} "
                  f"{bare['pss_mb']:>11.1f} {zap['pss_mb'] / bare['pss_mb']:>6.2f} | "
                  f"{zap['supervisor_rss_mb']:>17.1f}", flush=True)


if __name__ == "__main__":
    main()
