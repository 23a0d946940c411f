"""The Chrome process of a session: launch, its DevTools pipe, memory, and the close ladder.

No pyppeteer here: this module only knows the OS process. Chrome is spawned from the main
thread with PR_SET_PDEATHSIG (it gets SIGTERM when its worker dies), in its own session,
with stderr drained by a daemon thread forever (an unread pipe freezes Chrome while CDP still
answers). DevTools is ``--remote-debugging-pipe`` (fds 3 and 4, see browser.pipe), never a
TCP port: nothing of Chrome listens for other local users to attach to.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from worker import protocol
from worker.browser import flags, proctree
from worker.browser.executable import is_headless_shell
from worker.browser.stderr import StderrDrain
from worker.errors import (
    BootFailure,
    ChromeLaunchFailed,
    ChromeLaunchTimeout,
    ChromeNotFound,
)
from worker.logs import get_logger
from worker.prctl import set_death_signal

#: The descriptors Chrome reads CDP commands from and writes to with --remote-debugging-pipe.
CHROME_READ_FD = 3
CHROME_WRITE_FD = 4

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
    lean: Sequence[str] = ()  # [chrome] lean: ChromeLean names (browser.flags)
    js_heap_max_mb: int = 0  # [chrome] js_heap_max_mb: 0 = V8's own


def build_args(options: LaunchOptions) -> list[str]:
    """The full argv for Chrome (executable first, start URL last): our base flags, the lean
    ones, then the user's ``extra_args``, with the list switches merged (see browser.flags).
    ValueError for an unknown lean name."""
    args = [
        str(options.executable),
        "--remote-debugging-pipe",
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
    sandbox = flags.sandboxed([*args, *options.extra_args])
    args.extend(flags.lean_flags(options.lean, sandbox, options.js_heap_max_mb))
    args.extend(options.extra_args)
    args.append("about:blank")
    return flags.merge_list_switches(args)


def _install_devtools_fds(read_end: int, write_end: int) -> None:
    """In Chrome's process, between fork and exec: its ends of the DevTools pipes become fds 3
    and 4, and every other inheritable descriptor above 2 is closed (what ``close_fds`` does;
    subprocess's own close_fds would run after this and close 3 and 4 as well)."""
    # Moved out of the way first: either end may itself be 3 or 4.
    read_end, write_end = fcntl.fcntl(read_end, fcntl.F_DUPFD, 5), fcntl.fcntl(write_end, fcntl.F_DUPFD, 5)
    os.dup2(read_end, CHROME_READ_FD)  # dup2 makes them inheritable; everything else stays
    os.dup2(write_end, CHROME_WRITE_FD)  # close-on-exec (PEP 446) or is closed just below
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > CHROME_WRITE_FD and os.get_inheritable(fd):
                os.close(fd)  # e.g. the worker's own socket to the supervisor
        except OSError:
            continue  # the listing's own descriptor, closed by now


class Chrome:
    """One running Chrome. Create with :meth:`spawn`; always finish with :meth:`close`."""

    def __init__(self, proc: subprocess.Popen[bytes], executable: Path, devtools_fds: tuple[int, int]) -> None:
        self._proc = proc
        self.executable = executable
        self._devtools_fds: tuple[int, int] | None = devtools_fds
        self._ps = psutil.Process(proc.pid)
        # Refers to this very process until closed, whatever happens to its pid; readable
        # once it exits. Our own unreaped child, so the pid cannot have been reused yet.
        self._pidfd = os.pidfd_open(proc.pid)
        self._exit: asyncio.Future[None] | None = None
        self._killed = False  # by kill(): close() then only reaps
        assert proc.stderr is not None
        self._drain = StderrDrain(proc.stderr)
        self._drain.start()

    @classmethod
    def spawn(cls, options: LaunchOptions) -> Chrome:
        """Start Chrome. Call from the main thread: the death signal follows the forking thread."""
        # Only what Chrome needs (and the markers): nothing else the worker inherited.
        env = {**protocol.child_env(os.environ, display=not options.headless), "TMPDIR": options.tmp_dir}
        parent = os.getpid()
        commands_r, commands_w = os.pipe()  # CDP commands: we write, Chrome reads (its fd 3)
        answers_r, answers_w = os.pipe()  # answers and events: Chrome writes (its fd 4)

        def in_child() -> None:
            set_death_signal(signal.SIGTERM)
            if os.getppid() != parent:  # the worker died before prctl took effect
                os._exit(1)
            _install_devtools_fds(commands_r, answers_w)

        try:
            proc = subprocess.Popen(
                build_args(options),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
                preexec_fn=in_child,
                close_fds=False,  # done by _install_devtools_fds, which must keep fds 3 and 4
            )
        except OSError as exc:
            for fd in (commands_w, answers_r):
                os.close(fd)
            if exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC):
                raise ChromeNotFound(f"cannot execute {options.executable}: {exc.strerror}") from None
            raise ChromeLaunchFailed(f"cannot spawn {options.executable}: {exc}") from None
        finally:
            os.close(commands_r)  # Chrome's ends: only Chrome holds them now
            os.close(answers_w)
        log.info("chrome.launched", chrome_pid=proc.pid, executable=str(options.executable))
        return cls(proc, options.executable, (answers_r, commands_w))

    @property
    def pid(self) -> int:
        """Pid of the Chrome main (browser) process."""
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Chrome's exit status once it has exited (reaps it), else None."""
        return self._proc.poll()

    def take_devtools_fds(self) -> tuple[int, int]:
        """Our ends of the DevTools pipes, (read, write), handed over once: the caller owns
        them from then on (browser.pipe closes them)."""
        fds, self._devtools_fds = self._devtools_fds, None
        if fds is None:
            raise RuntimeError("the DevTools pipe was already taken")
        return fds

    async def attach_failure(self, error: BaseException, timeout: float) -> BootFailure:
        """What to report when attaching over the pipe failed with ``error``: Chrome's exit
        and its last stderr lines if it died, else a timeout or the error itself."""
        if self.returncode is None:  # the pipe ends a moment before the exit status is known
            await self.wait_exited(0.5)
        if self.returncode is not None:
            await asyncio.to_thread(self._drain.join, 1.0)  # let the tail fill up
            return ChromeLaunchFailed(
                f"Chrome exited with code {self.returncode} before DevTools was ready: {self._drain.tail()}")
        if isinstance(error, TimeoutError):
            return ChromeLaunchTimeout(f"no answer over the DevTools pipe within {timeout:g}s: {self._drain.tail()}")
        return ChromeLaunchFailed(f"cannot attach to Chrome over its DevTools pipe: {error!r}")

    async def wait_exited(self, timeout: float | None = None, cut_short: asyncio.Event | None = None) -> int | None:
        """Wait until Chrome's main process has exited; its return code, or None on timeout.

        Also returns None as soon as ``cut_short`` is set. Woken by Chrome's pidfd becoming
        readable (no polling: a hundred idle workers must not wake up twenty times a second).
        """
        if self._proc.poll() is not None:
            return self._proc.returncode
        if self._exit is None:
            self._exit = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().add_reader(self._pidfd, self._on_exit)
        waiters: list[asyncio.Future[Any]] = [self._exit]
        if cut_short is not None:
            waiters.append(asyncio.ensure_future(cut_short.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for extra in waiters[1:]:
                extra.cancel()
        return self._proc.poll()

    def _on_exit(self) -> None:
        assert self._exit is not None
        asyncio.get_running_loop().remove_reader(self._pidfd)
        if not self._exit.done():
            self._exit.set_result(None)

    def _release_pidfd(self) -> None:
        if self._pidfd < 0:
            return
        if self._exit is not None and not self._exit.done():
            asyncio.get_running_loop().remove_reader(self._pidfd)
            self._exit.cancel()
        os.close(self._pidfd)
        self._pidfd = -1

    def _collect(self) -> dict[int, psutil.Process]:
        # Its own tree only, walked down from it: never every process of the host.
        return {proc.pid: proc for proc in proctree.tree(self._ps)}

    def _signal_tree(self, procs: dict[int, psutil.Process], signum: signal.Signals) -> None:
        procs.update(self._collect())
        if self._proc.poll() is None:  # unreaped, so the group id cannot have been reused
            try:
                os.killpg(self._proc.pid, signum)
            except OSError:
                pass
        proctree.signal_all(procs.values(), signum)

    def kill(self) -> None:
        """SIGKILL Chrome's group and whole tree now, with no orderly close: the profile is not
        flushed, speed is the point (a fenced worker). :meth:`close` still reaps it."""
        self._killed = True
        self._signal_tree({}, signal.SIGKILL)

    async def close(self, graceful_s: float, term_grace_s: float = 1.0, hurry: asyncio.Event | None = None) -> str:
        """Make sure Chrome and every process of its tree are gone.

        The caller sends CDP ``Browser.close`` first. Then: wait ``graceful_s`` for Chrome to
        exit -> SIGTERM to its group and tree -> wait ``term_grace_s`` -> SIGKILL everything
        left. ``hurry`` (a second stop signal) cuts the graceful wait short. Returns how it
        ended: "exited", "sigterm", "sigkill", or "killed" (by :meth:`kill` before).
        """
        procs = self._collect()  # before any signal: children re-parent once the root dies
        if self._devtools_fds is not None:  # never attached: closing its commands pipe ends it too
            for fd in self.take_devtools_fds():
                os.close(fd)
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
        self._release_pidfd()
        how = "killed" if self._killed else how
        log.info("chrome.exited", chrome_pid=self.pid, returncode=self._proc.returncode, how=how)
        return how
