"""Benchmark of the listing: ``GET /api/sessions`` on one daemon with N sessions.

A fresh daemon (own state dir, ``driver = "basic"`` on a small static page served locally,
every other key at its default, as tests/bench/bench_scale.py runs it) gets N sessions; once
all are WORKING and each has its first resource sample, ``--requests`` sequential requests of
``GET /api/sessions`` (then of ``GET /api/sessions/{id}`` and ``GET /api/stats``) are timed the
way bench_scale.py times them: from sending to the JSON parsed by the client. Printed: p50,
p90, p99 and max in ms, the daemon's CPU time per request (all of its process over the run:
on a shared, busy host the wall times stretch, this hardly does), the body's size and the
load average when the requests began.

``--stopped`` creates the sessions without starting them (no Chrome: the handler's own cost,
cheap to run at any N; a stopped session has no live figures, so its object is a little
smaller). ``--profile FILE`` runs the daemon under cProfile, writes its stats to FILE when it
stops and prints the functions that take the most time inside the list handler.

Run from a checkout:

    .venv/bin/python tests/bench/bench_listing.py [--sessions 100] [--requests 1000]
        [--stopped] [--profile /tmp/listing.prof] [--set section.key=value ...]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_scale import _config, _env, _free_port, _percentile  # noqa: E402
from tests.support.daemon import API_KEY, Daemon  # noqa: E402
from tests.support.pages import PageServer  # noqa: E402
from tests.support.procs import kill_marked  # noqa: E402


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _timed(http: aiohttp.ClientSession, path: str, count: int, pid: int) -> dict[str, Any]:
    """``count`` sequential GETs of ``path``: percentiles of their times in ms, the daemon's
    CPU ms per request (its whole process: a busy host stretches wall times, not this), and
    the last body's size."""
    times, size = [], 0
    cpu0 = _cpu_s(pid)
    for _ in range(count):
        started = time.monotonic()
        async with http.get(path) as resp:
            raw = await resp.read()
            await resp.json()
            resp.raise_for_status()
        times.append(1000 * (time.monotonic() - started))
        size = len(raw)
    return {"p50": _percentile(times, 50), "p90": _percentile(times, 90), "p99": _percentile(times, 99),
            "max": max(times), "bytes": size, "requests": count,
            "cpu_ms": 1000 * (_cpu_s(pid) - cpu0) / count}


async def _ready(http: aiohttp.ClientSession, n: int, stopped: bool, deadline_s: float) -> float:
    """Wait until all N are WORKING with a sample (or, stopped, listed); seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        async with http.get("/api/sessions") as resp:
            sessions = (await resp.json())["sessions"]
        done = [s for s in sessions if stopped or (s["state"] == "WORKING" and s["memory_bytes"])]
        if len(done) == n:
            return time.monotonic() - t0
        await asyncio.sleep(1.0)
    raise SystemExit(f"only {len(done)}/{n} ready after {deadline_s:g} s")


async def _measure(d: Daemon, args: argparse.Namespace) -> dict[str, Any]:
    n = args.sessions
    async with aiohttp.ClientSession(f"http://127.0.0.1:{d.port}", headers={"X-Api-Key": API_KEY},
                                     connector=aiohttp.TCPConnector(limit=0)) as http:
        async def create(i: int) -> None:
            async with http.post("/api/sessions", json={"id": f"s{i:03d}", "start": not args.stopped}) as resp:
                resp.raise_for_status()

        await asyncio.gather(*(create(i) for i in range(n)))
        ready_s = await _ready(http, n, args.stopped, args.start_deadline_s)
        _say(f"  all {n} ready after {ready_s:.1f} s; settling {args.settle_s:g} s")
        await asyncio.sleep(args.settle_s)
        result: dict[str, Any] = {"ready_s": round(ready_s, 1),
                                  "load": " ".join(f"{v:.1f}" for v in os.getloadavg())}
        for name, path, count in (("list", "/api/sessions", args.requests),
                                  ("get", "/api/sessions/s000", args.requests // 4),
                                  ("stats", "/api/stats", args.requests // 4)):
            assert d.proc is not None
            result[name] = await _timed(http, path, count, d.proc.pid)
        return result


def _profile_report(path: Path, lines: int) -> str:
    """The functions with the most own time among those the list handler called."""
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("cumulative").print_callees("list_sessions")
    stats.sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--stopped", action="store_true", help="create without starting")
    parser.add_argument("--settle-s", type=float, default=5.0)
    parser.add_argument("--start-deadline-s", type=float, default=600.0)
    parser.add_argument("--profile", type=Path, help="run the daemon under cProfile, stats here")
    parser.add_argument("--profile-lines", type=int, default=25)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zaplist-")).resolve()
    with PageServer() as pages:
        url = pages.url("/")
        d = Daemon(work, _free_port(), url)
        _config(d, args.sessions, url)
        command = None
        if args.profile:
            command = [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()),
                       "-m", "supervisor"]
        _say(f"N={args.sessions}{' (stopped)' if args.stopped else ''}: daemon in {work}")
        d.start(env=_env(args.set), command=command)
        try:
            result = asyncio.run(_measure(d, args))
        finally:
            try:
                d.stop(timeout=300)
            except Exception:  # noqa: BLE001 - a hung stop: clean up all the same
                d.kill()
            kill_marked(d.state_dir)
            shutil.rmtree(d.state_dir, ignore_errors=True)
    print(f"N={args.sessions}{' stopped' if args.stopped else ' WORKING'}, "
          f"overrides: {' '.join(args.set) or 'none'}")
    for name in ("list", "get", "stats"):
        r = result[name]
        print(f"  {name:<6} p50 {r['p50']:6.2f}  p90 {r['p90']:6.2f}  p99 {r['p99']:6.2f}  "
              f"max {r['max']:6.2f} ms; daemon CPU {r['cpu_ms']:5.2f} ms/request  "
              f"({r['requests']} requests, {r['bytes']} bytes, load {result['load']})")
    if args.profile:
        print(_profile_report(args.profile, args.profile_lines))


if __name__ == "__main__":
    main()
