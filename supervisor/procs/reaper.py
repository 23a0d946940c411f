"""Find and end processes that belong to this install but have lost their owner.

Ownership is explicit: every worker and, through inheritance, every Chrome process of a
session carries ``ZAPVISOR_STATE_DIR`` and ``ZAPVISOR_SESSION`` in its environment, and runs as
the daemon's user. A process is only ever signalled after its user and marker were read from
/proc *and* its create time still matches, so a pid reused by an unrelated process is never
touched.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from worker import protocol

__all__ = ["Marked", "find_marked", "kill_marked", "marker_env"]


@dataclass(frozen=True)
class Marked:
    """A process that carries this state directory's marker."""

    pid: int
    create_time: float
    session_id: str
    name: str
    is_worker: bool


def marker_env(state_dir: Path, session_id: str) -> dict[str, str]:
    """The environment entries that mark a session's processes."""
    return {protocol.STATE_DIR_ENV: str(state_dir), protocol.SESSION_ENV: session_id}


def find_marked(state_dir: Path, session_id: str | None = None) -> list[Marked]:
    """Every live process marked with ``state_dir`` (and ``session_id`` when given), and
    their descendants: Chrome starts its zygotes and renderers with a cleaned environment,
    so only the browser process itself carries the marker.

    Blocking (reads /proc): call through ``asyncio.to_thread`` from the event loop.
    """
    wanted = str(state_dir)
    found: dict[int, Marked] = {}
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name", "create_time", "cmdline"]):
        if proc.pid == me:
            continue
        try:
            # Only our own user's: anyone may put our marker in their environment, and a
            # root daemon could read it and would signal them.
            if os.geteuid() not in proc.uids()[:2]:
                continue
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(protocol.STATE_DIR_ENV) != wanted:
            continue
        sid = env.get(protocol.SESSION_ENV, "")
        if session_id is not None and sid != session_id:
            continue
        cmdline = proc.info["cmdline"] or []
        # Workers forked by the zygote keep its command line but are named zapvisor-worker.
        is_worker = proc.info["name"] == protocol.WORKER_PROCESS_NAME or (
            "-m" in cmdline and "worker" in cmdline)
        found[proc.pid] = Marked(proc.pid, proc.info["create_time"], sid, proc.info["name"], is_worker)
        try:
            children = proc.children(recursive=True)
        except psutil.Error:
            continue
        for child in children:
            try:
                found.setdefault(child.pid, Marked(child.pid, child.create_time(), sid,
                                                   child.name(), False))
            except psutil.Error:
                continue
    return list(found.values())


def _same_process(marked: Marked) -> psutil.Process | None:
    try:
        proc = psutil.Process(marked.pid)
        if proc.create_time() != marked.create_time:
            return None  # the pid was reused: not ours any more
        return proc
    except psutil.Error:
        return None


def kill_marked(marked: Iterable[Marked], grace_s: float) -> int:
    """End ``marked`` processes: SIGTERM to workers (they close Chrome in order), up to
    ``grace_s`` for everything to exit by itself (a Chrome that just got its death signal is
    flushing its profile), then SIGKILL to what is left. Returns how many were alive.

    Blocking: call through ``asyncio.to_thread``.
    """
    procs = [(m, p) for m in marked if (p := _same_process(m)) is not None]
    for m, proc in procs:
        if m.is_worker:
            _signal(proc, signal.SIGTERM)
    _gone, alive = psutil.wait_procs([p for _, p in procs], timeout=grace_s)
    for proc in alive:
        _signal(proc, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    return len(procs)


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass
