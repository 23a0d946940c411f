"""Process helpers shared by tests: polling waits and the ZAPVISOR_STATE_DIR marker sweep."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import psutil

from worker.protocol import STATE_DIR_ENV, WORKER_PROCESS_NAME, ZYGOTE_MODULE


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05, message: str = "") -> None:
    """Poll ``predicate`` until it is truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {message or predicate}")
        time.sleep(interval)


def is_zygote(proc: psutil.Process) -> bool:
    """The daemon's zygote (the workers it forks share its command line, not its name)."""
    return proc.name() != WORKER_PROCESS_NAME and ZYGOTE_MODULE in proc.cmdline()


def marked_processes(state_dir: str | os.PathLike[str], zygote: bool = False) -> list[psutil.Process]:
    """Live (non-zombie) processes whose environment has ZAPVISOR_STATE_DIR == ``state_dir``.

    That is workers and Chrome *main* processes only: Chrome's children overwrite their
    /proc/<pid>/environ (process titles), so find them with :func:`process_tree` or by
    session id (Chrome is started as a session leader). The daemon's zygote, which lives as
    long as the daemon whether sessions run or not, only when ``zygote`` is true.
    """
    wanted = str(state_dir)
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(STATE_DIR_ENV) == wanted and (zygote or not is_zygote(proc)):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def kill_marked(state_dir: str | os.PathLike[str], timeout: float = 5.0) -> list[int]:
    """SIGKILL every marked process, their descendants and sessions; wait; return the pids."""
    found: dict[int, psutil.Process] = {}
    for proc in marked_processes(state_dir, zygote=True):
        found[proc.pid] = proc
        try:
            found.update((child.pid, child) for child in proc.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    leaders = set(found)
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) in leaders:
                found[proc.pid] = proc
        except OSError:
            continue
    procs = list(found.values())
    for proc in procs:
        try:
            proc.kill()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    psutil.wait_procs(procs, timeout=timeout)
    return [proc.pid for proc in procs]


def process_alive(proc: psutil.Process) -> bool:
    """True if ``proc`` (the same process: psutil checks its create time) runs, not a zombie."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def process_tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants now (Chrome's children carry no env markers: track them so)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
