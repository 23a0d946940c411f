"""The ``zapvisor`` CLI as a long-running process a test watches: ``events``, ``qr --follow``,
``start --wait``.

    with Follower(config, "events", "--json") as events:
        wait_until(lambda: len(events.lines()) >= 3, timeout=10)
        events.interrupt()            # Ctrl-C
    events.returncode, events.stderr()

Its stdout is read line by line by a thread (so a test never blocks on a pipe); its stderr goes
to a file. Leaving the block kills it if it still runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType


class Follower:
    """``zapvisor --config CONFIG ARGS...`` running in the background."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self._err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "--config", str(config), *args],
            stdout=subprocess.PIPE, stderr=self._err, stdin=subprocess.DEVNULL, text=True,
            env={**os.environ, **(env or {})})
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._final_err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    def lines(self) -> list[str]:
        """What it printed on stdout so far, line by line."""
        with self._lock:
            return list(self._lines)

    def stderr(self) -> str:
        """What it printed on stderr so far (all of it, once the block ended)."""
        if self._err.closed:
            return self._final_err
        self._err.seek(0)
        return self._err.read()

    def pause(self) -> None:
        """SIGSTOP: it does nothing until :meth:`resume` (a test's way to hold it back)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT."""
        self.proc.send_signal(signal.SIGCONT)

    def interrupt(self, timeout: float = 20) -> int:
        """Ctrl-C (SIGINT), then its exit status."""
        self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        """Its exit status once it ended (and its output was read)."""
        status = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        return status

    @property
    def returncode(self) -> int | None:
        """Its exit status, None while it runs."""
        return self.proc.poll()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        self._final_err = self.stderr()
        self._err.close()
