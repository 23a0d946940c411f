"""A real ``zapvisor serve`` in a subprocess, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.cli.client import Client
from supervisor.envvars import ALIASES
from supervisor.errors import ZapvisorError
from tests.support.procs import wait_until

__all__ = ["API_KEY", "BROWSER_ACCEPT", "Daemon", "write_config"]

API_KEY = "test-key-0123456789"
#: What Chromium sends for a page (Firefox and Safari rank text/html first likewise).
BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                  "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")


def _toml_value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write a config.toml made of ``sections``."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


#: [sending] with no limits and no human pacing.
NO_PACING: dict[str, Any] = {
    "per_minute": 0, "per_hour": 0, "per_day": 0, "per_recipient_hour": 0, "new_contacts_day": 0,
    "warmup": [], "delay_min_s": 0.0, "delay_max_s": 0.0, "typing": False, "recording": False,
    "mark_read": False,
}


class Daemon:
    """Start, talk to, signal and stop one daemon. ``log_path`` holds its output."""

    def __init__(self, workdir: Path, port: int, url: str, **overrides: dict[str, Any]) -> None:
        self.workdir = workdir
        self.port = port
        self.state_dir = (workdir / "state").resolve()
        self.log_path = workdir / "daemon.log"
        sections: dict[str, dict[str, Any]] = {
            "server": {"port": port, "api_key": API_KEY, "graceful_timeout_s": 20.0},
            "state": {"dir": str(self.state_dir)},
            "sessions": {"max_concurrent_starts": 4, "start_timeout_s": 60.0},
            "chrome": {"launch_timeout_s": 30.0, "close_timeout_s": 3.0},
            "limits": {"heartbeat_interval_s": 0.5, "heartbeat_timeout_s": 8.0,
                       "restart_backoff_initial_s": 0.3, "restart_reset_after_s": 30.0},
            # The basic driver by default: most tests point Chrome at a plain page. WhatsApp
            # tests (the simulator) pass whatsapp={"driver": "whatsapp", ...}.
            "whatsapp": {"url": url, "driver": "basic"},
            "logging": {"format": "json"},
            # Sends go at once: the queue's limits and pacing are off unless a test of them
            # turns them on (tests/integration/test_send_queue*.py).
            "sending": dict(NO_PACING),
        }
        for name, values in overrides.items():
            sections.setdefault(name, {}).update(values)
        self.config_path = write_config(workdir / "config.toml", sections)
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = Client(f"http://127.0.0.1:{port}", API_KEY, timeout_s=60)

    def start(self, wait: bool = True, env: dict[str, str] | None = None,
              preexec_fn: Callable[[], None] | None = None, command: list[str] | None = None,
              cwd: Path | None = None) -> Daemon:
        """Launch the daemon (``env`` added to its environment; ``preexec_fn`` run in it before
        exec, e.g. to lower a limit; ``command`` instead of this interpreter's ``-m supervisor``,
        e.g. an installed ``zapvisor``; run in ``cwd``); by default wait until /health answers.
        zapnode's variables (PORT, HEADLESS, ...) are not inherited: the daemon reads them as
        config, and only a test that means to may set them."""
        log = open(self.log_path, "ab")
        inherited = {k: v for k, v in os.environ.items() if k not in {a.name for a in ALIASES}}
        self.proc = subprocess.Popen(
            [*(command or [sys.executable, "-m", "supervisor"]), "--config", str(self.config_path),
             "serve"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
            env={**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}, preexec_fn=preexec_fn,
        )
        log.close()
        if wait:
            wait_until(self._healthy, timeout=30, message=f"daemon health\n{self.log()}")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
        try:
            return bool(self.client.get("/health")["status"] == "ok")
        except ZapvisorError:
            return False

    def log(self) -> str:
        """Everything the daemon wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self, name: str) -> list[dict[str, Any]]:
        """Log lines (JSON) whose event is ``name``."""
        found = []
        for line in self.log().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == name:
                found.append(entry)
        return found

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the daemon."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the daemon to exit; its status."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """SIGKILL the daemon (not its children)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- API helpers ---------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """One request with the key (and ``headers``): (status, response headers, JSON body),
        whatever the status."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"X-Api-Key": API_KEY, "Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")

    def session(self, session_id: str) -> dict[str, Any]:
        """GET /api/sessions/{id}."""
        info: dict[str, Any] = self.client.get(f"/api/sessions/{session_id}")
        return info

    def wait_state(self, session_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
        """Poll until the session is in ``state``; its info."""
        seen: dict[str, Any] = {}

        def reached() -> bool:
            seen.update(self.session(session_id))
            return seen["state"] == state

        try:
            wait_until(reached, timeout=timeout, message=f"{session_id} to be {state}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen {seen}\n{self.log()[-6000:]}") from None
        return seen


#: The ``make_daemon`` fixture (tests/conftest.py): a Daemon on this test's state dir.
MakeDaemon = Callable[..., Daemon]


def create(d: Daemon, *ids: str) -> dict[str, dict[str, Any]]:
    """Create sessions ``ids`` and wait until each is WORKING; their infos."""
    for session_id in ids:
        d.client.post("/api/sessions", {"id": session_id})
    return {session_id: d.wait_state(session_id, "WORKING") for session_id in ids}
