"""The roles' dotenv file (supervisor/sessions/roleenv.py) with a real registry, roles and store
(sessions created stopped, so no process runs): concurrent role changes write one at a time and
the file ends with the latest roles; deleted roles are emptied; a failed write is counted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from supervisor.config import Config
from supervisor.events.bus import EventBus
from supervisor.sessions import roleenv
from supervisor.sessions.registry import Registry
from supervisor.sessions.rolebook import LocalRoleBook
from supervisor.sessions.roleenv import RoleEnvFile
from supervisor.sessions.roles import Roles
from supervisor.settings import SessionsConfig, StateConfig
from supervisor.store import Store

T = TypeVar("T")
BASE = "https://wa.example.com"


class Overlap:
    """Wraps the file write to see whether two ever run at once (each one lasts a while)."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.writes = 0
        self._lock = threading.Lock()
        self._write = RoleEnvFile._write

    def __call__(self, path: Path, values: dict[str, str]) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        try:
            self.writes += 1
            return self._write(path, values)
        finally:
            with self._lock:
                self.running -= 1


def with_roles(tmp_path: Path, scenario: Callable[[Roles, Registry, EventBus], Awaitable[T]]) -> T:
    config = Config(state=StateConfig(dir=str(tmp_path / "state")),
                    sessions=SessionsConfig(worker_spawn="exec"))
    config.layout.sessions.mkdir(parents=True)
    store = Store(config.layout.database)

    async def run() -> T:
        bus = EventBus()
        async with asyncio.TaskGroup() as tg:
            registry = Registry(config, store, bus, tg)
            for name in ("a", "b", "c"):
                await registry.create(name, False, {})
            try:
                return await scenario(Roles(LocalRoleBook(store, registry), bus, registry), registry, bus)
            finally:
                await registry.close()

    try:
        return asyncio.run(run())
    finally:
        store.close()


def test_concurrent_changes_are_written_one_at_a_time_latest_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_KEY=base64:xyz\n# keep me\n")
    overlap = Overlap()
    monkeypatch.setattr(RoleEnvFile, "_write", staticmethod(overlap))

    async def scenario(roles: Roles, registry: Registry, bus: EventBus) -> RoleEnvFile:
        sync = RoleEnvFile(env, BASE, roles)
        bus.listen(sync.on_event)  # role.updated starts writes of its own too

        async def change(i: int) -> bool | None:
            await roles.set("sells" if i % 2 else "coordination", [("a", "b", "c")[i % 3]])
            return await sync.sync()

        assert await asyncio.gather(*(change(i) for i in range(30))) == [True] * 30
        await sync.close()
        return sync

    sync = with_roles(tmp_path, scenario)
    assert overlap.most == 1, "two writes ran at once"
    assert 1 <= overlap.writes < 30  # changes made during a write share the next one
    # i = 29 (sells -> c) and i = 28 (coordination -> b) are the last changes.
    assert env.read_text() == (
        "APP_KEY=base64:xyz\n# keep me\n\n"
        "# WhatsApp roles, kept up to date by zapvisor ([roles] env_file)\n"
        "WHATSAPP_COORDINATION_SESSION=b\nWHATSAPP_COORDINATION_PHONE=\n"
        f"WHATSAPP_COORDINATION_URL={BASE}/api/sessions/b/send-message\n"
        "WHATSAPP_SELLS_SESSION=c\nWHATSAPP_SELLS_PHONE=\n"
        f"WHATSAPP_SELLS_URL={BASE}/api/sessions/c/send-message\n")
    assert sync.failures == 0


def test_deleted_roles_and_sessions_are_emptied_and_failures_counted(tmp_path: Path) -> None:
    env = tmp_path / "app" / ".env"
    outcomes: list[bool] = []

    async def scenario(roles: Roles, registry: Registry, bus: EventBus) -> None:
        sync = RoleEnvFile(env, BASE, roles, on_write=outcomes.append)
        await roles.set("sells-team", ["a"])
        assert await sync.sync() is False  # its folder does not exist yet
        assert sync.failures == 1 and "No such file or directory" in str(sync.last_error)
        env.parent.mkdir()
        await roles.set("support", ["b", "c"])
        assert await sync.sync() is True and sync.status() == {
            "path": str(env), "ok": True, "failures": 1, "lastError": None}
        text = env.read_text()
        assert "WHATSAPP_SELLS_TEAM_SESSION=a\n" in text
        assert "WHATSAPP_SUPPORT_SESSION=b\n" in text  # a role's first session
        registry.sessions["a"].update_record(phone_number="244929782402")
        await roles.set("support", [])
        assert await sync.sync() is True
        assert "WHATSAPP_SELLS_TEAM_PHONE=244929782402\n" in env.read_text()
        assert "WHATSAPP_SUPPORT_SESSION=\nWHATSAPP_SUPPORT_PHONE=\nWHATSAPP_SUPPORT_URL=\n" in env.read_text()
        await registry.delete("a")  # its role goes with it (no role.updated)
        assert await sync.sync() is True
        assert "WHATSAPP_SELLS_TEAM_SESSION=\n" in env.read_text()
        assert await sync.sync() is True  # nothing changed: nothing written

    with_roles(tmp_path, scenario)
    assert outcomes == [False, True, True, True]


def test_no_env_file_no_work(tmp_path: Path) -> None:
    async def scenario(roles: Roles, registry: Registry, bus: EventBus) -> None:
        sync = RoleEnvFile(None, BASE, roles)
        assert await sync.sync() is None and sync.status() is None

    with_roles(tmp_path, scenario)
    assert roleenv.env_prefix("sales-2") == "WHATSAPP_SALES_2"
