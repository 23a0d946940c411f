"""Shared fixtures, and the guard that fails the suite if any Chrome or worker outlives a test."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.daemon import Daemon, MakeDaemon
from tests.support.pages import PageServer
from tests.support.procs import kill_marked
from tests.support.proxies import STARTED as STARTED_PROXIES
from tests.support.redis import STARTED as STARTED_REDIS
from tests.support.redis import RedisServer
from tests.support.s3 import MotoServer
from tests.support.wa import fast_simulator
from tests.wasim import RunningSimulator
from worker import protocol

_BASE: list[str] = []


def _leftovers(base: str) -> list[psutil.Process]:
    """Processes started under this test run: marked workers/Chrome, or a Chrome whose
    profile lies under the run's temporary directory."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        if proc.pid == os.getpid():
            continue
        try:
            marker = proc.environ().get(protocol.STATE_DIR_ENV, "")
            cmdline = " ".join(proc.info["cmdline"] or [])
        except (psutil.Error, OSError):
            continue
        if marker.startswith(base) or f"--user-data-dir={base}" in cmdline:
            found.append(proc)
    return found


@pytest.fixture(scope="session", autouse=True)
def _run_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _BASE.append(str(tmp_path_factory.getbasetemp().resolve()))
    yield


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """After every test: no worker, no Chrome, no proxy or Redis server of this run may remain (waits
    briefly for processes that are already on their way out, then kills and fails)."""
    yield
    base = _BASE[0]
    deadline = time.monotonic() + 10
    left = _leftovers(base)
    while left and time.monotonic() < deadline:
        psutil.wait_procs(left, timeout=0.5)
        left = _leftovers(base)
    described = [f"{p.pid} {p.info['name']}" for p in left]
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:
            pass
    # The test's proxy servers (tests/support/proxies.py) and Redis servers (tests/support/redis.py).
    for server in [*STARTED_PROXIES, *STARTED_REDIS]:
        if server.poll() is None:
            described.append(f"{server.pid} {server.args[0]}")
            server.kill()
            server.wait()
    STARTED_PROXIES.clear()
    STARTED_REDIS.clear()
    if described:
        pytest.fail(f"processes outlived the test: {described}")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of this test (AOF on, its own port and data directory), stopped at
    the end; ``restart()`` and ``stop()``/``start()`` keep the port and the data."""
    server = RedisServer(tmp_path / "redis")
    with server:
        yield server


@pytest.fixture(scope="session")
def pages() -> Iterator[PageServer]:
    """A local web server with pages for Chrome to load (see tests/support/pages.py)."""
    with PageServer() as server:
        yield server


@pytest.fixture(params=["2024", "2026"])
def sim_each_build(request: pytest.FixtureRequest) -> Iterator[RunningSimulator]:
    """The simulator with test timings, once per WhatsApp Web build it models."""
    with fast_simulator(ref_ttl_s=20.0, build=request.param) as running:
        yield running


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    """The WhatsApp Web simulator, with QR codes that live 20 s (tests may override)."""
    with fast_simulator(ref_ttl_s=20.0) as running:
        yield running


@pytest.fixture
def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A resolved temporary directory (state dirs are compared as real paths)."""
    return tmp_path.resolve()


@pytest.fixture
def plain_daemon(workdir: Path, free_port: int) -> Iterator[Daemon]:
    """A daemon whose sessions (if any start) load a page nobody serves; most tests here create
    them stopped, so no Chrome runs. It must stop cleanly."""
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    d.start()
    try:
        yield d
    finally:
        assert d.stop() == 0


@pytest.fixture
def make_daemon(workdir: Path, free_port: int, pages: PageServer) -> Iterator[MakeDaemon]:
    """Build daemons on this test's state dir; all are killed and swept at the end."""
    made: list[Daemon] = []

    def factory(**overrides: dict[str, Any]) -> Daemon:
        d = Daemon(workdir, free_port, pages.url("/"), **overrides)
        made.append(d)
        return d

    yield factory
    for d in made:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
    kill_marked(workdir / "state")


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    """A real S3 HTTP API (moto's server, its own process) with an empty bucket; killed after."""
    with MotoServer(tmp_path) as server:
        yield server
