"""A real Redis for tests: Debian's ``redis-server`` on a free loopback port, its data and log in
a temporary directory, with the append-only file on (``--appendonly yes``, no RDB snapshots) so
that a restart replays what was written — as the cluster's Redis is meant to be run.

    with RedisServer(tmp_path) as server:
        server.url          # redis://127.0.0.1:<port>/0
        server.stop()       # SIGTERM: Redis flushes its AOF and exits; clients see it down
        server.start()      # again, same port and data directory: the AOF replays
        server.restart()    # both
        server.freeze()     # SIGSTOP: connections open, nothing answers (a partition's look)
        server.thaw()       # SIGCONT

Readiness is a PING answered PONG (not just an open port: while Redis loads its AOF it answers
``-LOADING``), polled with a deadline. Every server started here is in :data:`STARTED`; the
suite's leak guard (tests/conftest.py) fails a test after which one still runs.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path
from types import TracebackType

from tests.support.procs import wait_until
from tests.support.proxies import free_port

__all__ = ["STARTED", "RedisServer"]

#: Every redis-server process started by a test, for the leak guard.
STARTED: list[subprocess.Popen[bytes]] = []


class RedisServer:
    """One redis-server process on a fixed port and data directory across restarts."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = self.dir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL ``[cluster] redis_url`` takes."""
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        """Foreground, loopback only, AOF on, no RDB snapshots, everything in :attr:`dir`."""
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--appendonly", "yes", "--save", "",
                "--daemonize", "no", "--logfile", str(self.log_path)]

    def ping(self) -> bool:
        """Whether Redis answers PING with PONG now (a loading Redis answers -LOADING)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        """Start it and wait until it answers PING."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=self.dir)
        STARTED.append(self.proc)
        wait_until(lambda: self.proc is not None and (self.proc.poll() is not None or self.ping()),
                   timeout=15, message=f"redis-server answering PING on port {self.port}")
        assert self.proc.poll() is None, f"redis-server exited:\n{self.log()}"
        return self

    def stop(self) -> None:
        """SIGTERM (Redis writes out its AOF and exits), SIGKILL if it lingers; reap it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a frozen Redis would not act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self) -> RedisServer:
        """Stop, then start again on the same port with the same data directory."""
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, but no command is answered — what a
        client sees of a partition or of a Redis stuck on a slow disk."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        self.proc.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """What the server logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
