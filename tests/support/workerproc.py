"""WorkerProc: start ``python -m worker`` over a socketpair and speak the protocol to it (sync).

Used by tests/test_worker.py; the supervisor's tests may reuse it to drive a lone worker.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from worker import protocol

REPO = Path(__file__).resolve().parents[2]
_HEADER = struct.Struct(">I")  # the frame header of worker.protocol: body length, big-endian


def boot_args(state_dir: Path, session: str, url: str, **overrides: Any) -> dict[str, Any]:
    """A BootSpec for ``session`` under ``state_dir`` (fast timings for tests)."""
    spec: dict[str, Any] = {
        "session_id": session,
        "profile_dir": str(state_dir / "sessions" / session / "profile"),
        "tmp_dir": str(state_dir / "sessions" / session / "tmp"),
        "url": url,
        "chrome_executable": "",
        "chrome_headless": True,
        "chrome_extra_args": [],
        "chrome_user_agent": "",
        "chrome_lean": list(protocol.CHROME_LEAN_DEFAULT),
        "chrome_js_heap_max_mb": 0,
        "launch_timeout_s": 30.0,
        "page_timeout_s": 20.0,
        "heartbeat_interval_s": 0.5,
        "probe_interval_s": 0.5,
        "close_timeout_s": 5.0,
    }
    spec.update(overrides)
    return spec


def whatsapp_args(**overrides: Any) -> dict[str, Any]:
    """The ``whatsapp`` part of a BootSpec (protocol.WhatsAppSpec): the WhatsApp driver with
    test timings and the shipped defaults otherwise."""
    spec: dict[str, Any] = {
        "driver": "whatsapp",
        "ready_timeout_s": 20.0,
        "qr_timeout_s": 20.0,
        "qr_max_refreshes": 10,
        "pairing_code_interval_s": 180.0,
        "takeover_on_conflict": False,
        "send_timeout_s": 30.0,
        "ignore_groups": False,
        "ignore_status": True,
        "ignore_newsletters": True,
        "commands": [],
        "command_prefix": "!",
    }
    spec.update(overrides)
    return spec


class WorkerProc:
    """One worker process and the supervisor's end of its socket."""

    def __init__(self, state_dir: Path, session: str = "s1", log_level: str = "debug") -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ, PYTHONPATH=str(REPO), ZAPVISOR_LOG_LEVEL=log_level)
        env[protocol.STATE_DIR_ENV] = str(state_dir)
        env[protocol.SESSION_ENV] = session
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = state_dir / f"worker-{session}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "worker", "--fd", str(theirs.fileno()), "--session", session],
                pass_fds=(theirs.fileno(),),
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        theirs.close()
        self.sock = ours
        self.session = session
        self.seen: list[dict[str, Any]] = []  # every message received, in order
        self._pending: list[dict[str, Any]] = []  # received but not yet consumed
        self._buffer = b""  # bytes received but not yet whole frames
        self._next_id = 1
        self.eof = False

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the worker's stderr (for assertion messages)."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def send(self, message: dict[str, Any]) -> None:
        """Send one message."""
        self.sock.sendall(protocol.encode(message))

    def send_raw(self, data: bytes) -> None:
        """Send raw bytes (for malformed-frame tests)."""
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Read more bytes until a message is pending; False on EOF or deadline."""
        while not self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.eof:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return False
            except ConnectionError:
                data = b""
            if not data:
                self.eof = True
                return False
            self._buffer += data
            for message in self._whole_frames():
                self.seen.append(message)
                self._pending.append(message)
        return True

    def _whole_frames(self) -> list[dict[str, Any]]:
        """Take every complete frame off the buffer, decoded (a blocking test reader: no size cap,
        no shape checks; the worker's own checks are under test, not these)."""
        messages = []
        while len(self._buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            messages.append(json.loads(self._buffer[_HEADER.size:end]))
            self._buffer = self._buffer[end:]
        return messages

    def next_message(self, timeout: float) -> dict[str, Any] | None:
        """The next message, or None on EOF/timeout."""
        if not self._fill(time.monotonic() + timeout):
            return None
        return self._pending.pop(0)

    def wait_message(self, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
        """Consume messages until one matches ``predicate``; AssertionError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._fill(deadline):
                raise AssertionError(
                    f"no {what} within {timeout:g}s (eof={self.eof}); seen {self.seen[-5:]}\n{self.log_tail()}"
                )
            message = self._pending.pop(0)
            if predicate(message):
                return message

    def wait_event(self, event: str, timeout: float, **data: Any) -> dict[str, Any]:
        """Wait for event ``event`` whose data contains ``data``; returns the event's data."""

        def matches(message: dict[str, Any]) -> bool:
            if message.get("event") != event:
                return False
            return all(message["data"].get(key) == value for key, value in data.items())

        found = self.wait_message(matches, timeout, f"event {event} {data}")
        result: dict[str, Any] = found["data"]
        return result

    def request(self, op: str, args: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Send a request and return its reply (events received meanwhile stay in ``seen``)."""
        request_id = self._next_id
        self._next_id += 1
        self.send(protocol.make_request(request_id, op, args))
        return self.wait_message(lambda m: m.get("id") == request_id and "ok" in m, timeout, f"reply to {op}")

    def boot(self, args: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        """Send ``boot`` and return its reply."""
        return self.request(protocol.OP_BOOT, args, timeout)

    def drain(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Consume everything up to EOF; returns the messages (AssertionError if no EOF)."""
        deadline = time.monotonic() + timeout
        messages = []
        while self._fill(deadline):
            messages.append(self._pending.pop(0))
        if not self.eof:
            raise AssertionError(f"no EOF within {timeout:g}s\n{self.log_tail()}")
        return messages

    def wait_exit(self, timeout: float) -> int:
        """The worker's exit code; AssertionError if it has not exited within ``timeout``."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker still running after {timeout:g}s\n{self.log_tail()}") from None

    def close(self) -> None:
        """Close our end of the socket and make sure the process is gone."""
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
