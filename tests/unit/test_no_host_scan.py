"""Measuring a session and ending what its worker left read only that session's processes: never
the list of the host's processes, never another process's files.

Checked where Python itself reports every file it opens and every directory it lists (audit
hooks, PEP 578), in a child interpreter of its own (a hook cannot be removed): a real process
tree stands for a session (``sh`` and its two ``sleep``), another ``sleep`` for an orphan left
with the reaper, and other processes of the host (this test runner among them) must never be
read. The cgroup path reads its cgroup's files by construction (tests/integration/
test_tracking.py runs it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent("""
    import json, os, subprocess, sys, time
    from supervisor.procs import procfs
    from supervisor.procs.tracking import TreeProcs

    session = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    orphan = subprocess.Popen(["sleep", "60"])
    deadline = time.monotonic() + 10
    while len(procfs.walk(session.pid)) < 3:  # sh has forked both
        assert time.monotonic() < deadline, "sh did not start its children"
        time.sleep(0.01)
    seen = []

    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes)):
            seen.append(("open", os.fsdecode(args[0])))
        elif event in ("os.listdir", "os.scandir"):
            seen.append((event, os.fsdecode(args[0]) if args[0] is not None else "."))

    pids = procfs.walk(session.pid)
    try:
        tree = TreeProcs(os.getpid, lambda: {session.pid})
        sys.addaudithook(hook)
        usage = tree.measure(session.pid)
        ended = tree.end_leftovers(grace_s=5.0)
        seen_then = list(seen)
        orphan.wait(timeout=10)
    finally:  # whatever happened, nothing of ours outlives the child
        if orphan.poll() is None:  # never a pid already reaped (it may be another's now)
            orphan.kill()
        for pid in reversed(pids):  # sh's children first, then sh
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        session.wait(timeout=10)
    print(json.dumps({"me": os.getpid(), "session": pids, "orphan": orphan.pid,
                      "processes": usage.processes, "memory": usage.memory_bytes, "ended": ended,
                      "orphan_gone": procfs.read_stat(orphan.pid) is None, "seen": seen_then}))
""")


def test_measuring_and_ending_read_only_the_sessions_own_processes() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["processes"] == 3 and result["memory"] > 0  # sh and its two sleeps
    assert result["ended"] == 1 and result["orphan_gone"], "the orphan ended, not the session's worker"
    seen = [tuple(entry) for entry in result["seen"]]
    assert seen, "the hook saw the reads"
    assert not [s for s in seen if s[0] != "open" and s[1].rstrip("/") == "/proc"], "/proc was listed"
    pids = {int(m.group(1)) for _, path in seen if (m := re.match(r"/proc/(\d+)/", path))}
    own = {*result["session"], result["orphan"], result["me"]}
    # The session's three processes, the reaper (the child interpreter) and its orphan: read,
    # and nothing else (not this test runner, not any other process of the host).
    assert pids == own, (pids, own)
