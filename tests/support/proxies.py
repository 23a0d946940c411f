"""Real proxy servers for tests: Debian's ``tinyproxy`` (HTTP, optional Basic authentication)
and ``microsocks`` (SOCKS5, optional RFC 1929 user/password), each on a free loopback port,
with its config and log in a temporary directory. Their logs show what went through them.

    with Tinyproxy(tmp_path, user="u", password="p") as proxy:
        proxy.url                      # http://u:p@127.0.0.1:<port>
        proxy.requested("127.0.0.1:8090")

Every server started here is in :data:`STARTED`; the suite's leak guard (tests/conftest.py)
fails a test after which one of them still runs.
"""

from __future__ import annotations

import abc
import socket
import subprocess
import urllib.parse
from pathlib import Path
from types import TracebackType

from tests.support.procs import wait_until

__all__ = ["STARTED", "Microsocks", "ProxyServer", "Tinyproxy", "free_port"]

#: Every proxy process started by a test, for the leak guard.
STARTED: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class ProxyServer(abc.ABC):
    """One proxy process; a context manager that stops it (and waits) at the end."""

    scheme = ""

    def __init__(self, workdir: Path, user: str = "", password: str = "") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.user, self.password = user, password
        self.port = free_port()
        self.log_path = self.dir / f"{self.scheme}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The server's command line (each kind of proxy says its own)."""

    @property
    def url(self) -> str:
        """The proxy's URL, with its credentials (percent-encoded)."""
        return self.url_with(self.user, self.password)

    def url_with(self, user: str, password: str) -> str:
        """The proxy's URL with other credentials (e.g. a wrong password)."""
        quote = urllib.parse.quote
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"{self.scheme}://{credentials}127.0.0.1:{self.port}"

    def start(self) -> ProxyServer:
        """Start it and wait until it accepts connections."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.dir)
        STARTED.append(self.proc)
        wait_until(lambda: self.proc is not None and (self.proc.poll() is not None or _listening(self.port)),
                   timeout=10, message=f"{self.scheme} proxy on port {self.port}")
        assert self.proc.poll() is None, f"{self.command()[0]} exited:\n{self.log()}"
        return self

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) and reap it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def log(self) -> str:
        """What the server logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class Tinyproxy(ProxyServer):
    """tinyproxy: an HTTP proxy (plain requests and CONNECT tunnels), Basic authentication when
    given a user. Its log names every request: ``Request (file descriptor 5): GET http://…``."""

    scheme = "http"

    def command(self) -> list[str]:
        """``tinyproxy -d`` (foreground) on a config written here."""
        config = self.dir / f"tinyproxy-{self.port}.conf"
        lines = [f"Port {self.port}", "Listen 127.0.0.1", "Timeout 30", "MaxClients 64",
                 f'LogFile "{self.log_path}"', "LogLevel Connect"]
        if self.user:
            lines.append(f"BasicAuth {self.user} {self.password}")
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return ["tinyproxy", "-d", "-c", str(config)]

    def requested(self, host_port: str) -> bool:
        """Whether a request for ``host_port`` (a page or a tunnel) went through."""
        return any("Request (" in line and (f"//{host_port}/" in line or f"CONNECT {host_port} " in line)
                   for line in self.log().splitlines())


class Microsocks(ProxyServer):
    """microsocks: a SOCKS5 proxy, RFC 1929 user/password when given a user. Its output names
    every connection it made: ``client[4] 127.0.0.1: connected to 127.0.0.1:8090``."""

    scheme = "socks5"

    def command(self) -> list[str]:
        """``microsocks`` on loopback (its credentials on its own command line: a test server)."""
        auth = ["-u", self.user, "-P", self.password] if self.user else []
        return ["microsocks", "-i", "127.0.0.1", "-p", str(self.port), *auth]

    def requested(self, host_port: str) -> bool:
        """Whether a connection to ``host_port`` went through."""
        return f"connected to {host_port}" in self.log()
