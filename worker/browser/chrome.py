"""The Chrome process of a session: launch, DevTools URL, memory, and the close ladder.

No pyppeteer here: this module only knows the OS process. Chrome is spawned from the main
thread with PR_SET_PDEATHSIG (it gets SIGTERM when its worker dies), in its own session,
with stderr drained by a daemon thread forever (an unread pipe freezes Chrome while its CDP
port still accepts connections).
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from worker.browser import proctree
from worker.browser.executable import is_headless_shell
from worker.browser.stderr import StderrDrain
from worker.errors import ChromeLaunchFailed, ChromeLaunchTimeout, ChromeNotFound
from worker.logs import get_logger
from worker.prctl import set_death_signal

log = get_logger()


@dataclass(frozen=True)
class LaunchOptions:
    """What the command line of one Chrome is built from."""

    executable: Path
    profile_dir: str
    tmp_dir: str
    headless: bool
    user_agent: str
    extra_args: Sequence[str]


def build_args(options: LaunchOptions) -> list[str]:
    """The full argv for Chrome (executable first, start URL last)."""
    args = [
        str(options.executable),
        "--remote-debugging-port=0",
        f"--user-data-dir={options.profile_dir}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-gpu",
        "--mute-audio",
        "--password-store=basic",
        "--use-mock-keychain",
        "--disable-blink-features=AutomationControlled",
        "--disable-dev-shm-usage",
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chrome refuses to run its sandbox as root
    if options.headless and not is_headless_shell(options.executable):
        args.append("--headless=new")
    if options.user_agent:
        args.append(f"--user-agent={options.user_agent}")
    args.extend(options.extra_args)
    args.append("about:blank")
    return args


class Chrome:
    """One running Chrome. Create with :meth:`spawn`; always finish with :meth:`close`."""

    def __init__(self, proc: subprocess.Popen[bytes], executable: Path, markers: tuple[str, str] | None) -> None:
        self._proc = proc
        self.executable = executable
        self._markers = markers
        self._ps = psutil.Process(proc.pid)
        assert proc.stderr is not None
        self._drain = StderrDrain(proc.stderr)
        self._drain.start()

    @classmethod
    def spawn(cls, options: LaunchOptions, markers: tuple[str, str] | None) -> Chrome:
        """Start Chrome. Call from the main thread: the death signal follows the forking thread."""
        env = dict(os.environ, TMPDIR=options.tmp_dir)  # keeps the ZAPVISOR_* markers
        parent = os.getpid()

        def in_child() -> None:
            set_death_signal(signal.SIGTERM)
            if os.getppid() != parent:  # the worker died before prctl took effect
                os._exit(1)

        try:
            proc = subprocess.Popen(
                build_args(options),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
                preexec_fn=in_child,
                close_fds=True,
            )
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC):
                raise ChromeNotFound(f"cannot execute {options.executable}: {exc.strerror}") from None
            raise ChromeLaunchFailed(f"cannot spawn {options.executable}: {exc}") from None
        log.info("chrome.launched", chrome_pid=proc.pid, executable=str(options.executable))
        return cls(proc, options.executable, markers)

    @property
    def pid(self) -> int:
        """Pid of the Chrome main (browser) process."""
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Chrome's exit status once it has exited (reaps it), else None."""
        return self._proc.poll()

    async def wait_devtools_url(self, timeout: float) -> str:
        """Return the ``ws://`` DevTools URL Chrome prints on stderr.

        Raises ChromeLaunchFailed if Chrome exits first, ChromeLaunchTimeout after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while self._drain.url is None:
            if self.returncode is not None:
                await asyncio.to_thread(self._drain.join, 1.0)  # let the tail fill up
                raise ChromeLaunchFailed(
                    f"Chrome exited with code {self.returncode} before DevTools was ready: {self._drain.tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChromeLaunchTimeout(f"no DevTools URL from Chrome after {timeout:g}s: {self._drain.tail()}")
            await asyncio.sleep(min(remaining, 0.05))  # the drain thread fills in .url
        return self._drain.url

    async def wait_exited(self, timeout: float | None = None, cut_short: asyncio.Event | None = None) -> int | None:
        """Wait until Chrome's main process has exited; its return code, or None on timeout.

        Also returns None as soon as ``cut_short`` is set.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._proc.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            if cut_short is not None and cut_short.is_set():
                return None
            await asyncio.sleep(0.05)  # waitpid(WNOHANG) poll: no thread, no child watcher
        return self._proc.returncode

    def tree_memory(self) -> tuple[int, int]:
        """(PSS bytes, process count) of the Chrome tree. Blocking: run via asyncio.to_thread."""
        return proctree.memory(proctree.tree(self._ps))

    def _collect(self) -> dict[int, psutil.Process]:
        procs = {proc.pid: proc for proc in proctree.tree(self._ps)}
        procs.update((proc.pid, proc) for proc in proctree.session_members(self._proc.pid))
        if self._markers is not None:
            procs.update((proc.pid, proc) for proc in proctree.marked_chrome(self._markers))
        return procs

    def _signal_tree(self, procs: dict[int, psutil.Process], signum: signal.Signals) -> None:
        procs.update(self._collect())
        if self._proc.poll() is None:  # unreaped, so the group id cannot have been reused
            try:
                os.killpg(self._proc.pid, signum)
            except OSError:
                pass
        proctree.signal_all(procs.values(), signum)

    async def close(self, graceful_s: float, term_grace_s: float = 1.0, hurry: asyncio.Event | None = None) -> str:
        """Make sure Chrome and every process of its tree are gone.

        The caller sends CDP ``Browser.close`` first. Then: wait ``graceful_s`` for Chrome to
        exit -> SIGTERM to its group and tree -> wait ``term_grace_s`` -> SIGKILL everything
        left. ``hurry`` (a second stop signal) cuts the graceful wait short. Returns how it
        ended: "exited", "sigterm" or "sigkill".
        """
        procs = self._collect()  # before any signal: children re-parent once the root dies
        how = "exited"
        if await self.wait_exited(graceful_s, cut_short=hurry) is None:
            how = "sigterm"
            self._signal_tree(procs, signal.SIGTERM)
            if await self.wait_exited(term_grace_s) is None:
                how = "sigkill"
        if how != "sigkill":  # children normally follow the browser process within moments
            deadline = time.monotonic() + term_grace_s
            while proctree.alive(procs.values()) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        if proctree.alive(procs.values()) or self._proc.poll() is None:
            how = "sigkill"
            self._signal_tree(procs, signal.SIGKILL)
        await self.wait_exited(5.0)  # SIGKILL cannot be refused; this only reaps
        log.info("chrome.exited", chrome_pid=self.pid, returncode=self._proc.returncode, how=how)
        return how
