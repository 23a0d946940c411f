"""The session supervision loop with hand-written fakes: what a failed spawn leads to."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.procs.spawner import Child
from supervisor.procs.tracking import Tracking
from supervisor.sessions.backoff import CrashBreaker
from supervisor.sessions.context import SessionContext
from supervisor.sessions.liveness import HostWatch
from supervisor.sessions.session import Session
from supervisor.settings import LimitsConfig, StateConfig
from supervisor.states import State
from supervisor.store import Store


class FailingSpawner:
    """A spawner whose fork always fails, as under EMFILE or EAGAIN."""

    def __init__(self) -> None:
        self.attempts = 0

    async def warm_up(self) -> None:
        """Nothing to prepare."""

    async def spawn(self, session_id: str, env: dict[str, str], fd: int) -> Child:
        self.attempts += 1
        raise OSError(errno.EMFILE, "Too many open files")

    async def close(self) -> None:
        """Nothing to close."""

    def reaper_pid(self) -> int | None:
        """No reaper."""
        return None


def test_a_failed_spawn_is_retried_with_backoff_then_fails(tmp_path: Path) -> None:
    limits = LimitsConfig(restart_backoff_initial_s=0.01, restart_backoff_factor=2,
                          restart_backoff_jitter=0, max_fast_crashes=4)
    config = Config(state=StateConfig(dir=str(tmp_path)), limits=limits)
    store = Store(tmp_path / "z.db")
    record = store.insert_session("s", "running", {})
    spawner = FailingSpawner()

    async def no_leftovers(session_id: str, procs: object) -> int:
        return 0

    async def scenario() -> Session:
        bus = EventBus()
        ctx = SessionContext(config=config, store=store, bus=bus, start_slots=asyncio.Semaphore(1),
                             breaker=CrashBreaker(limits), spawner=spawner,
                             host=HostWatch(limits, config.chrome, config.sessions, bus, list),
                             tracking=Tracking(None, lambda: None, set), end_leftovers=no_leftovers)
        session = Session(record, ctx)
        session.transition(State.STARTING, "queued")
        await asyncio.wait_for(session.run(), timeout=30)  # returns once FAILED
        return session

    session = asyncio.run(scenario())
    assert session.state == State.FAILED
    assert spawner.attempts == 4
    assert session.record.restarts == 4
    assert "cannot start a worker" in str(session.record.last_error)
    assert "Too many open files" in str(session.record.last_error)
    store.close()


def test_one_runner_per_session_whoever_starts_it_first(tmp_path: Path) -> None:
    from supervisor.errors import Conflict
    from supervisor.sessions.registry import Registry
    from supervisor.settings import ChromeConfig, SessionsConfig

    config = Config(state=StateConfig(dir=str(tmp_path)),
                    sessions=SessionsConfig(worker_spawn="exec"),
                    chrome=ChromeConfig(executable="/nonexistent/chrome"))
    store = Store(tmp_path / "z.db")
    store.insert_session("a", "running", {})

    async def scenario() -> None:
        async with asyncio.TaskGroup() as tg:
            registry = Registry(config, store, EventBus(), tg)
            assert registry.restore() == 1
            first = registry.sessions["a"].runner
            # A request that arrives around the restore must not add a second runner.
            assert registry.restore() == 0
            try:
                await registry.start("a")
                raise AssertionError("a second start must conflict")
            except Conflict as exc:
                assert "already" in exc.message
            assert registry.sessions["a"].runner is first
            await registry.shutdown()
            await registry.close()

    asyncio.run(scenario())
    store.close()
