"""Fixtures shared by integration tests: for those that drive a worker process directly
(test_worker, test_fencing, test_chrome_isolation) a page server, a state directory swept of
marked processes and a one-session worker factory; for the webhook tests a receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.pages import PageServer
from tests.support.procs import kill_marked
from tests.support.receiver import Receiver
from tests.support.workerproc import WorkerProc


@pytest.fixture
def server(pages: PageServer) -> PageServer:
    """The session's page server (tests/conftest.py ``pages``)."""
    return pages


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state directory; whatever marked process is left in it is killed at the end."""
    state = tmp_path / "state"
    state.mkdir()
    try:
        yield state
    finally:
        kill_marked(state)


@pytest.fixture
def spawn(state_dir: Path) -> Iterator[Callable[..., WorkerProc]]:
    """Start a worker of ``session`` (default "s1") in ``state_dir``; all closed at the end."""
    started: list[WorkerProc] = []

    def start(session: str = "s1") -> WorkerProc:
        started.append(WorkerProc(state_dir, session))
        return started[-1]

    try:
        yield start
    finally:
        for worker in started:
            worker.close()


@pytest.fixture
def rx() -> Iterator[Receiver]:
    """A real HTTP receiver of webhook deliveries, stopped at the end."""
    with Receiver() as receiver:
        yield receiver
