"""Process helpers shared by tests: polling waits and the ZAPVISOR_STATE_DIR marker sweep."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import psutil

STATE_DIR_ENV = "ZAPVISOR_STATE_DIR"
SESSION_ENV = "ZAPVISOR_SESSION"


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05, message: str = "") -> None:
    """Poll ``predicate`` until it is truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {message or predicate}")
        time.sleep(interval)


def marked_processes(state_dir: str | os.PathLike[str]) -> list[psutil.Process]:
    """Live (non-zombie) processes whose environment has ZAPVISOR_STATE_DIR == ``state_dir``."""
    wanted = str(state_dir)
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(STATE_DIR_ENV) == wanted:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def kill_marked(state_dir: str | os.PathLike[str], timeout: float = 5.0) -> list[int]:
    """SIGKILL every marked process and wait for them; returns the pids that were killed."""
    procs = marked_processes(state_dir)
    for proc in procs:
        try:
            proc.kill()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    psutil.wait_procs(procs, timeout=timeout)
    return [proc.pid for proc in procs]


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
