"""Benchmark at scale: N sessions created at once on one daemon, then left idle.

For each N, a fresh daemon (own state dir, ``driver = "basic"`` on a small static page served
locally, ``[sessions] max_sessions`` >= N, every other key at its default unless ``--set``
says otherwise) gets N concurrent ``POST /api/sessions``. Printed per N:

- start: seconds until all are WORKING (from the daemon's log; how many made it by the
  deadline otherwise), missed heartbeats, worker kills, restarts, breaker openings, unhandled
  asyncio errors; the slowest ``GET /api/sessions`` while it started (polled every second);
- idle (after ``--settle-s``, a window of ``--idle-s``): the same counts; CPU by process kind
  (% of one core: supervisor, zygote, workers, Chrome browser, renderers, other Chrome
  processes) from /proc of the daemon's tree; PSS and processes per session (smaps_rollup of
  each worker's tree); ``GET /api/sessions`` p50/p99 over ``--requests`` sequential requests;
- stop: seconds, exit status, and any process of the run left behind.

Run from a checkout (2 cores: expect minutes per N):

    .venv/bin/python tests/bench/bench_scale.py [--sizes 50,100,200] [--idle-s 300]
        [--start-deadline-s 900] [--set limits.heartbeat_timeout_s=30 ...] [--url URL] [--json]

``--set section.key=value`` becomes ``ZAPVISOR_SECTION__KEY=value`` in the daemon's
environment, so the same script measures before and after a change of defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.scale_report import render, summary  # noqa: E402
from tests.support import logcount, proctree  # noqa: E402
from tests.support.daemon import API_KEY, Daemon, write_config  # noqa: E402
from tests.support.pages import PageServer  # noqa: E402
from tests.support.procs import kill_marked, marked_processes  # noqa: E402


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Run:
    """One daemon, one N: its HTTP client, log spans and process snapshots."""

    def __init__(self, d: Daemon, http: aiohttp.ClientSession) -> None:
        self.d, self.http = d, http
        assert d.proc is not None
        self.pid = d.proc.pid
        self.seen: set[tuple[int, int]] = set()  # every process of the run, to check at the end

    async def get(self, path: str) -> tuple[Any, float]:
        """GET ``path``: its JSON and how long it took (seconds)."""
        started = time.monotonic()
        async with self.http.get(path) as resp:
            body = await resp.json() if path != "/metrics" else await resp.text()
            resp.raise_for_status()
        return body, time.monotonic() - started

    async def create(self, session_id: str) -> int:
        """POST /api/sessions for ``session_id``: the HTTP status."""
        async with self.http.post("/api/sessions", json={"id": session_id}) as resp:
            return resp.status

    async def mark(self) -> tuple[int, dict[str, float]]:
        """The log offset and the event counters now (a span's end)."""
        try:
            text, _ = await self.get("/metrics")
            events = logcount.metric_events(text)
        except (aiohttp.ClientError, TimeoutError) as exc:
            _say(f"  /metrics failed: {exc!r}")
            events = {}
        return logcount.log_offset(self.d.log_path), events

    def span(self, start: tuple[int, dict[str, float]], end: tuple[int, dict[str, float]]
             ) -> tuple[logcount.LogSpan, dict[str, Any]]:
        """What happened between two marks: the log's lines and the headline counts."""
        lines = logcount.read_span(self.d.log_path, start[0], end[0])
        counts: dict[str, Any] = lines.summary()
        events = {k: v - start[1].get(k, 0) for k, v in end[1].items() if v - start[1].get(k, 0)}
        counts["restarts"] = int(events.get("session.restart", counts["restart_lines"]))
        counts["host_starved"] = int(events.get("host.starved", lines.count("host.starved")))
        counts["warnings"] = lines.noteworthy()
        counts["asyncio_messages"] = lines.asyncio_messages()
        counts["bus_events"] = {k: int(v) for k, v in sorted(events.items())}
        return lines, counts

    def snapshot(self) -> dict[tuple[int, int], proctree.Proc]:
        """The daemon's tree now (remembered for the leftover check)."""
        snap = proctree.snapshot(self.pid)
        self.seen.update(snap)
        return snap


async def _start(run: Run, ids: list[str], deadline_s: float) -> dict[str, Any]:
    """Create every session at once; poll the list until all are WORKING or the deadline."""
    begin = await run.mark()
    wall0, t0 = time.time(), time.monotonic()
    creates = asyncio.gather(*(run.create(s) for s in ids), return_exceptions=True)
    latencies: list[float] = []
    working, seen_all_s = 0, None
    while time.monotonic() - t0 < deadline_s:
        await asyncio.sleep(1.0)
        try:
            listing, took = await run.get("/api/sessions")
        except (aiohttp.ClientError, TimeoutError) as exc:
            _say(f"  list failed: {exc!r}")
            continue
        latencies.append(took)
        states = [s["state"] for s in listing["sessions"]]
        working = states.count("WORKING")
        if working == len(ids):
            seen_all_s = time.monotonic() - t0
            break
    statuses = collections.Counter(str(answer) for answer in await creates)
    end = await run.mark()
    lines, counts = run.span(begin, end)
    at = logcount.working_at(lines)
    return {"working": working, "created": dict(statuses), "poll_all_working_s": seen_all_s,
            "all_working_s": (max(at.values()) - wall0) if seen_all_s and at else None,
            "list_max_ms": 1000 * max(latencies, default=0), "list_requests": len(latencies),
            **counts}


async def _idle(run: Run, args: argparse.Namespace, n: int) -> dict[str, Any]:
    """Stay idle; CPU by kind over the window, then PSS per session and list latency."""
    begin = await run.mark()
    await asyncio.sleep(args.settle_s)
    load = os.getloadavg()
    all0, host0 = proctree.host_ticks(), proctree.host_cpu_ticks()
    snap0, t0 = run.snapshot(), time.monotonic()
    await asyncio.sleep(args.idle_s)
    snap1, window = run.snapshot(), time.monotonic() - t0
    host1, all1 = proctree.host_cpu_ticks(), proctree.host_ticks()
    others = proctree.busiest(all0, all1, set(snap0) | set(snap1), window)
    cpu, procs = proctree.cpu_by_kind(snap0, snap1, window)
    own = sum(cpu[k] for k in ("supervisor", "zygote", "worker"))
    chrome = sum(cpu[k] for k in ("chrome-browser", "renderer", "chrome-other"))
    # The whole host's busy and stolen time in the window, as % of one core: other tenants.
    busy, steal = (100.0 * (os.cpu_count() or 1) * (host1[i] - host0[i]) / max(1, host1[2] - host0[2])
                   for i in (0, 1))
    listing, _ = await run.get("/api/sessions")
    workers = [int(s["worker_pid"]) for s in listing["sessions"] if s.get("worker_pid")]
    memory = proctree.memory_per_session(workers, snap1)
    latencies = [1000 * (await run.get("/api/sessions"))[1] for _ in range(args.requests)]
    _, counts = run.span(begin, await run.mark())
    states = [s["state"] for s in listing["sessions"]]
    return {"window_s": round(window, 1), "load_at_window": [round(v, 2) for v in load],
            "cpu_percent": {k: round(v, 2) for k, v in cpu.items()}, "processes": procs,
            "cpu_own_percent": round(own, 2), "cpu_chrome_percent": round(chrome, 2),
            "cpu_host_busy_percent": round(busy, 1), "cpu_host_steal_percent": round(steal, 1),
            "cpu_others_percent": round(sum(u[2] for u in others), 1),
            "cpu_others_top": [(comm, pid, round(pct, 1)) for comm, pid, pct in others[:4]], "working_at_end": states.count("WORKING"),
            "list_p50_ms": _percentile(latencies, 50), "list_p99_ms": _percentile(latencies, 99),
            "list_max_ms": max(latencies, default=None), "list_requests": len(latencies),
            **memory, **counts, "sessions": n}


def _config(d: Daemon, n: int, url: str) -> None:
    """Only what the benchmark needs; not the test suite's fast heartbeats and short timeouts."""
    write_config(d.config_path, {
        "server": {"port": d.port, "api_key": API_KEY},
        "state": {"dir": str(d.state_dir)},
        "sessions": {"max_sessions": max(n, 50)},
        "whatsapp": {"url": url, "driver": "basic"},
        "logging": {"format": "json"},
    })


def _env(settings: list[str]) -> dict[str, str]:
    """``--set section.key=value`` as ``ZAPVISOR_SECTION__KEY=value``."""
    env = {}
    for item in settings:
        name, _, value = item.partition("=")
        if "=" not in item or "." not in name:
            raise SystemExit(f"--set wants section.key=value, got {item!r}")
        env["ZAPVISOR_" + name.upper().replace(".", "__", 1)] = value
    return env


async def _measure(d: Daemon, n: int, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"X-Api-Key": API_KEY}
    timeout = aiohttp.ClientTimeout(total=args.start_deadline_s)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{d.port}", headers=headers,
                                     connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as http:
        run = Run(d, http)
        ids = [f"s{i:03d}" for i in range(n)]
        _say(f"N={n}: creating {n} sessions at once")
        start = await _start(run, ids, args.start_deadline_s)
        _say(f"  {start['working']}/{n} WORKING; idle {args.settle_s:g}+{args.idle_s:g} s")
        idle = await _idle(run, args, n)
        run.snapshot()  # the processes now, too, for the leftover check
        return {"start": start, "idle": idle, "seen": run.seen}


def bench(n: int, args: argparse.Namespace, url: str) -> dict[str, Any]:
    """One fresh daemon with N sessions; everything measured, then stopped and checked."""
    work = Path(tempfile.mkdtemp(prefix="zapscale-")).resolve()
    d = Daemon(work, _free_port(), url)
    _config(d, n, url)
    result: dict[str, Any] = {"n": n, "load_before": [round(v, 2) for v in os.getloadavg()],
                              "workdir": str(work)}
    d.start(env=_env(args.set))
    seen: set[tuple[int, int]] = set()
    try:
        measured = asyncio.run(_measure(d, n, args))
        seen = measured.pop("seen")
        result.update(measured)
    finally:
        started = time.monotonic()
        try:
            result["stop_exit"] = d.stop(timeout=args.stop_timeout_s)
        except Exception as exc:  # noqa: BLE001 - a hung stop is a result, then clean up
            result["stop_exit"] = repr(exc)
            d.kill()
        result["stop_s"] = round(time.monotonic() - started, 1)
        left = sorted(pid for pid, _ in proctree.alive(seen))
        left += [p.pid for p in marked_processes(d.state_dir, zygote=True) if p.pid not in left]
        result["left_behind"] = left
        if left:
            kill_marked(d.state_dir)
        shutil.rmtree(d.state_dir, ignore_errors=True)  # N Chrome profiles; the log stays
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="50,100,200", help="comma-separated N")
    parser.add_argument("--idle-s", type=float, default=300.0)
    parser.add_argument("--settle-s", type=float, default=10.0,
                        help="after all are WORKING, before the idle window")
    parser.add_argument("--start-deadline-s", type=float, default=900.0)
    parser.add_argument("--stop-timeout-s", type=float, default=300.0)
    parser.add_argument("--requests", type=int, default=200, help="idle list requests")
    parser.add_argument("--url", default="", help="the page (default: a local static page)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.replace(" ", ",").split(",") if s]
    results = []
    with PageServer() as pages:
        url = args.url or pages.url("/")
        for n in sizes:
            results.append(bench(n, args, url))
            if not args.json:
                print(render(results[-1], args, header=len(results) == 1), flush=True)
    if args.json:
        print(json.dumps({"args": vars(args), "results": results}, indent=1))
    else:
        print(summary(results))


if __name__ == "__main__":
    main()
