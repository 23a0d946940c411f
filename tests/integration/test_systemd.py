"""The systemd unit (verified by systemd-analyze) and the notify protocol, spoken to a real
datagram socket given as NOTIFY_SOCKET."""

from __future__ import annotations

import configparser
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "zapvisor.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_unit_has_the_directives_that_matter() -> None:
    service = _unit()["Service"]
    expected = {"Type": "notify", "NotifyAccess": "main", "KillMode": "mixed",
                "Restart": "on-failure", "OOMPolicy": "continue", "NoNewPrivileges": "yes",
                "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "StateDirectory": "zapvisor", "RuntimeDirectory": "zapvisor",
                "LogsDirectory": "zapvisor", "User": "zapvisor"}
    # The review's hardening (issue 12, F13): what Chrome allows of systemd's sandboxing.
    expected.update({"UMask": "0077", "LimitNOFILE": "65536", "ProtectProc": "invisible",
                     "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
                     "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
                     "Delegate": "yes", "ProtectControlGroups": "no", "ProtectClock": "yes", "ProtectHostname": "yes",
                     "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
                     "LockPersonality": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
                     "SystemCallArchitectures": "native", "CapabilityBoundingSet": "",
                     "TasksMax": "infinity"})
    for key, value in expected.items():
        assert service.get(key) == value, key
    # Both break Chrome (its sandbox's namespaces; V8's JIT): never set.
    assert "RestrictNamespaces" not in service and "MemoryDenyWriteExecute" not in service
    assert int(service["WatchdogSec"]) > 0
    # The stop budget (graceful_timeout_s = 30 by default) plus the close ladder must fit.
    assert int(service["TimeoutStopSec"]) > 30 + 15
    assert service["ReadWritePaths"] == "/var/lib/zapvisor"


def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at this checkout's entry point.
    entry = Path(sys.executable).parent / "zapvisor"
    assert entry.exists(), entry
    unit = tmp_path / "zapvisor.service"
    unit.write_text(UNIT.read_text().replace("/opt/zapvisor/bin/zapvisor", str(entry)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


class NotifyListener:
    """A bound AF_UNIX datagram socket that collects what the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30) -> dict[str, str]:
        """The first message (in order, from now) that has ``key`` (with ``value``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536).decode()
            except TimeoutError:
                break
            message = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            self.messages.append(message)
            if key in message and (value is None or message[key] == value):
                return message
        raise AssertionError(f"no {key}={value} within {timeout}s; got {self.messages[-5:]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(workdir: Path) -> Iterator[NotifyListener]:
    n = NotifyListener(workdir / "notify.sock")
    yield n
    n.close()


def test_notify_ready_status_watchdog_and_stopping(workdir: Path, free_port: int,
                                                   listener: NotifyListener) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", limits={"check_interval_s": 0.2})
    d.start(env={"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "400000"})
    try:
        ready = listener.wait_for("READY", "1")
        assert ready["STATUS"] == "no sessions" and int(ready["MAINPID"]) == d.proc.pid  # type: ignore[union-attr]
        listener.wait_for("WATCHDOG", "1")
        d.client.post("/api/sessions", {"id": "a", "start": False})
        listener.wait_for("STATUS", "1 STOPPED")
        d.signal(signal.SIGTERM)
        stopping = listener.wait_for("STOPPING", "1")
        assert int(stopping["EXTEND_TIMEOUT_USEC"]) >= 20_000_000
        assert d.wait_exit(timeout=30) == 0
    finally:
        d.kill()


def test_no_notify_socket_means_no_notifications(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    d.start()
    try:
        assert d.events("daemon.ready")[0]["systemd"] is False
    finally:
        assert d.stop() == 0


class _Notes:
    """Records what would go to systemd."""

    watchdog_interval_s = 0.01

    def __init__(self) -> None:
        self.sent: list[str] = []

    def watchdog(self) -> None:
        self.sent.append("WATCHDOG=1")

    def status(self, line: str) -> None:
        self.sent.append(f"STATUS={line}")


def test_watchdog_is_withheld_while_checks_are_late() -> None:
    import asyncio

    from supervisor.sessions.housekeeping import Housekeeper
    from supervisor.settings import LimitsConfig

    class _Registry:
        config = type("C", (), {"limits": LimitsConfig(check_interval_s=0.05)})()
        sessions: dict[str, object] = {}

    notes = _Notes()
    keeper = Housekeeper(_Registry(), store=None, notifier=notes)  # type: ignore[arg-type]

    async def feed_for(seconds: float) -> None:
        task = asyncio.ensure_future(keeper.run_watchdog())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    keeper.last_ok = time.monotonic()
    asyncio.run(feed_for(0.05))
    assert "WATCHDOG=1" in notes.sent
    notes.sent.clear()
    keeper.last_ok = time.monotonic() - 1.0  # three check intervals missed
    asyncio.run(feed_for(0.05))
    assert notes.sent == []


def test_systemd_analyze_security_rates_the_unit_ok() -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr  # --offline: systemd 250 or newer (Debian 12 has 252)
    exposure = float(result.stdout.rsplit("Overall exposure level for zapvisor.service:", 1)[1].split()[0])
    assert exposure <= 4.0, result.stdout[-2000:]  # "OK" is below 4.9; README states the figure
