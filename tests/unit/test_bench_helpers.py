"""The benchmark helpers read what they claim: /proc of a process tree, and a daemon's log."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support import logcount, proctree


def test_snapshot_of_this_process_is_its_tree_root() -> None:
    snap = proctree.snapshot(os.getpid())
    me = [p for p in snap.values() if p.pid == os.getpid()]
    assert len(me) == 1 and me[0].kind == "supervisor" and me[0].ppid == os.getppid()
    assert list(proctree.alive([me[0].key])) == [me[0].key]
    assert list(proctree.alive([(me[0].pid, me[0].start + 1)])) == []  # another start: not it
    assert proctree.pss_bytes(os.getpid()) > 0


def test_cpu_by_kind_counts_the_difference_and_newcomers_whole() -> None:
    old = proctree.Proc(10, 1, 5, 100, "worker")
    new = proctree.Proc(11, 1, 9, 30, "renderer")
    after = {old.key: proctree.Proc(10, 1, 5, 100 + proctree.TICKS_PER_S, "worker"), new.key: new}
    percent, counts = proctree.cpu_by_kind({old.key: old}, after, seconds=2.0)
    assert percent["worker"] == 50.0
    assert percent["renderer"] == 100.0 * 30 / proctree.TICKS_PER_S / 2.0
    assert counts["worker"] == counts["renderer"] == 1 and counts["supervisor"] == 0


def test_log_span_counts_kills_restarts_and_asyncio_errors(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    first = [{"event": "worker.kill", "level": "warning"}]
    second = [
        {"event": "worker.heartbeat_missed", "level": "warning"},
        {"event": "worker.kill", "level": "warning"},
        {"event": "asyncio.error", "level": "error", "message": "Task exception"},
        {"event": "asyncio.error_repeated", "level": "error", "message": "Task exception",
         "times": 4},
        {"event": "asyncio.unhandled", "level": "warning", "message": "Task was destroyed"},
        {"event": "session.state", "level": "info", "session_id": "a", "new": "WORKING",
         "reason": "restarting in 1.0s (backoff)", "timestamp": "2024-01-01T00:00:01.5Z"},
    ]
    log.write_text("".join(json.dumps(e) + "\n" for e in first))
    middle = logcount.log_offset(log)
    with log.open("a") as handle:
        handle.write("".join(json.dumps(e) + "\n" for e in second) + "Traceback (most recent)\n")
    span = logcount.read_span(log, middle, logcount.log_offset(log))
    summary = span.summary()
    assert summary["kills"] == 1 and summary["heartbeat_missed"] == 1
    assert summary["asyncio_errors"] == 5 and summary["tracebacks"] == 1
    assert summary["restart_lines"] == 1 and summary["worker_asyncio_errors"] == 1
    assert span.asyncio_messages() == ["Task exception", "Task was destroyed"]
    assert logcount.working_at(span) == {"a": 1704067201.5}
    assert logcount.metric_events('zapvisor_events_total{event="session.restart"} 3.0\n') == {
        "session.restart": 3.0}
