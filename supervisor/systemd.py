"""The systemd notify protocol (sd_notify), without libsystemd: one datagram per message.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op, so the daemon runs the same way
from a terminal.
"""

from __future__ import annotations

import os
import socket

from supervisor.logs import get_logger

__all__ = ["Notifier"]

_log = get_logger()


class Notifier:
    """Sends ``READY=1``, ``STATUS=…``, ``WATCHDOG=1``, ``STOPPING=1``, ``EXTEND_TIMEOUT_USEC``."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()  # abstract namespace
        elif address.startswith("/"):
            self._address = address
        self._sock: socket.socket | None = None
        if self._address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)
        # WATCHDOG_PID scopes the watchdog to one process: ours, or nobody's.
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval_s = int(usec) / 1e6 / 2 if usec.isdigit() and mine else 0.0

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notify socket."""
        return self._sock is not None

    def notify(self, *fields: str) -> None:
        """Send one message made of ``KEY=value`` lines. Never raises: a lost notification
        must not take the daemon down (systemd's watchdog is the judge of that)."""
        if self._sock is None or self._address is None:
            return
        try:
            self._sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:
            _log.warning("systemd.notify_failed", error=str(exc))

    def ready(self, status: str) -> None:
        """The daemon serves and its restored sessions are queued."""
        self.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        """A one-line status for ``systemctl status``."""
        self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        """Proof of life; send only while the daemon's own checks pass."""
        self.notify("WATCHDOG=1")

    def stopping(self, status: str, extend_s: float) -> None:
        """Shutdown has begun and may take up to ``extend_s`` more seconds."""
        self.notify("STOPPING=1", f"STATUS={status}", f"EXTEND_TIMEOUT_USEC={int(extend_s * 1e6)}")

    def close(self) -> None:
        """Release the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
