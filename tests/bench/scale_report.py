"""The text report of bench_scale.py: a compact block per N, then a one-line-per-N summary."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["render", "summary"]

_COUNTS = (("hb missed", "heartbeat_missed"), ("kills", "kills"), ("restarts", "restarts"),
           ("breaker opens", "breaker_opens"), ("asyncio errors", "asyncio_errors"),
           ("worker asyncio errors", "worker_asyncio_errors"),
           ("starved", "host_starved"), ("worker exits", "worker_exits"))
_KINDS = (("supervisor", "supervisor"), ("zygote", "zygote"), ("workers", "worker"),
          ("chrome browser", "chrome-browser"), ("renderers", "renderer"),
          ("chrome other", "chrome-other"), ("other", "other"))


_HEADER = (f"{'N':>4} {'work':>4} {'start_s':>7} {'kills':>5} {'rst':>4} {'kills':>5} {'rst':>4} "
           f"{'sup%':>6} {'own%':>6} {'chrom%':>6} {'PSS MB':>6} {'procs':>5} {'p50ms':>7} "
           f"{'p99ms':>7} {'startmax':>8}\n{'':>4} {'':>4} {'<---- start':<19}{'<---- idle':<10}")


def _num(value: Any, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def _counts(phase: dict[str, Any]) -> str:
    text = ", ".join(f"{label} {phase.get(key, '-')}" for label, key in _COUNTS)
    others = {k: v for k, v in phase.get("warnings", {}).items()
              if k not in ("worker.kill", "worker.heartbeat_missed", "breaker.open",
                           "asyncio.error", "asyncio.error_repeated", "asyncio.unhandled")}
    if others:
        text += "\n    other warnings/errors: " + ", ".join(f"{k} x{v}" for k, v in others.items())
    if phase.get("asyncio_messages"):
        text += "\n    asyncio: " + "; ".join(phase["asyncio_messages"])
    return text


def _block(r: dict[str, Any], args: argparse.Namespace) -> list[str]:
    n, start, idle = r["n"], r.get("start", {}), r.get("idle", {})
    load = " ".join(_num(v, ".2f") for v in r["load_before"])
    lines = [f"== N={n}  (load before {load}; overrides: {' '.join(args.set) or 'none'})"]
    if not start:
        return lines + ["  no measurement (the daemon did not start?)"]
    all_s = start.get("all_working_s")
    lines += [
        f"start: {start['working']}/{n} WORKING"
        + (f" in {all_s:.1f} s (poll saw {start['poll_all_working_s']:.1f} s)" if all_s else
           f" by the {args.start_deadline_s:g} s deadline")
        + f"; creates {start['created']}",
        f"  {_counts(start)}",
        f"  GET /api/sessions while starting: max {_num(start['list_max_ms'], '.0f')} ms over "
        f"{start['list_requests']} requests",
    ]
    if not idle:
        return lines
    cpu, procs = idle["cpu_percent"], idle["processes"]
    load = " ".join(_num(v, ".2f") for v in idle["load_at_window"])
    lines += [
        f"idle: {idle['window_s']:g} s window after {args.settle_s:g} s settle "
        f"(load {load}); {idle['working_at_end']}/{n} WORKING at the end",
        f"  host: busy {idle['cpu_host_busy_percent']:.1f}% of a core, steal "
        f"{idle['cpu_host_steal_percent']:.1f}%; processes outside the daemon's tree "
        f"{idle['cpu_others_percent']:.1f}% (" + ", ".join(
            f"{comm}[{pid}] {pct}" for comm, pid, pct in idle["cpu_others_top"]) + ")",
        f"  {_counts(idle)}",
        "  CPU % of one core: " + ", ".join(f"{label} {cpu[key]:.2f} ({procs[key]})"
                                             for label, key in _KINDS),
        f"    zapvisor own (supervisor+zygote+workers) {idle['cpu_own_percent']:.2f}, "
        f"Chrome {idle['cpu_chrome_percent']:.2f}",
        f"  PSS per session {_num(idle['pss_per_session_mb'])} MB (min {_num(idle['pss_min_mb'])}, "
        f"max {_num(idle['pss_max_mb'])}; {idle['measured_sessions']} sessions), "
        f"all-in with supervisor+zygote {_num(idle['pss_all_in_per_session_mb'])} MB; "
        f"supervisor {idle['pss_supervisor_mb']} MB, zygote {idle['pss_zygote_mb']} MB",
        f"  processes per session {_num(idle['processes_per_session'], '.2f')} "
        f"(Chrome {_num(idle['chrome_processes_per_session'], '.2f')})",
        f"  GET /api/sessions idle: p50 {_num(idle['list_p50_ms'])} ms, "
        f"p99 {_num(idle['list_p99_ms'])} ms, max {_num(idle['list_max_ms'])} ms "
        f"({idle['list_requests']} requests)",
    ]
    lines.append(f"stop: {r.get('stop_s')} s, exit {r.get('stop_exit')}, left behind: "
                 f"{r.get('left_behind') or 'nothing'}")
    return lines


def _row(r: dict[str, Any]) -> str:
    s, i = r.get("start", {}), r.get("idle", {})
    cpu = i.get("cpu_percent", {})
    return (f"{r['n']:>4} {s.get('working', 0):>4} {_num(s.get('all_working_s')):>7} "
            f"{s.get('kills', '-'):>5} {s.get('restarts', '-'):>4} "
            f"{i.get('kills', '-'):>5} {i.get('restarts', '-'):>4} "
            f"{_num(cpu.get('supervisor'), '.2f'):>6} {_num(i.get('cpu_own_percent'), '.2f'):>6} "
            f"{_num(i.get('cpu_chrome_percent'), '.2f'):>6} {_num(i.get('pss_per_session_mb')):>6} "
            f"{_num(i.get('processes_per_session'), '.2f'):>5} {_num(i.get('list_p50_ms')):>7} "
            f"{_num(i.get('list_p99_ms')):>7} {_num(s.get('list_max_ms'), '.0f'):>8}")


def render(result: dict[str, Any], args: argparse.Namespace, header: bool = False) -> str:
    """The block of one N (bench_scale's dict), after the run's header line if ``header``."""
    lines: list[str] = []
    if header:
        lines.append(f"bench_scale: idle {args.idle_s:g} s, settle {args.settle_s:g} s, "
                     f"deadline {args.start_deadline_s:g} s, {args.requests} idle list requests")
    return "\n".join(lines + _block(result, args))


def summary(results: list[dict[str, Any]]) -> str:
    """One line per N."""
    lines = ["", "summary (start = until all WORKING; idle CPU in % of one core; own = supervisor+"
              "zygote+workers; list in ms)",
              _HEADER]
    lines += [_row(r) for r in results]
    return "\n".join(lines)
