"""Only the page script's own events move the WhatsApp driver: each must carry the random token
of the latest install. A logout forged by another script of the page would delete the profile."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.support.workerproc import boot_args, whatsapp_args
from worker.drivers.scriptedpage import ScriptedPage
from worker.drivers.whatsapp import WhatsAppDriver
from worker.spec import parse_boot


class FakeLogin:
    """Records what the driver tells the login."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.me = None
        self.version = "2.3000.0"

    def time_left(self) -> float:
        return 5.0

    async def logged_out(self) -> None:
        self.calls.append("logged_out")

    async def on_state(self, state: str) -> None:
        self.calls.append(f"state:{state}")


async def _follow(events: list[dict[str, Any]]) -> tuple[FakeLogin, list[tuple[str, dict[str, Any]]]]:
    args = boot_args(Path("/nonexistent"), "s1", "http://127.0.0.1:9/", whatsapp=whatsapp_args())
    boot = parse_boot({"id": 1, "op": "boot", "args": args})
    assert boot.whatsapp is not None
    driver = WhatsAppDriver(boot.spec, boot.whatsapp)
    login = FakeLogin()
    emitted: list[tuple[str, dict[str, Any]]] = []

    async def emit(event: str, data: dict[str, Any]) -> None:
        emitted.append((event, data))

    driver._login = login  # type: ignore[assignment]
    driver._emit_fn = emit
    page = ScriptedPage(None, "http://x/", "", 5.0, "", driver._events.put_nowait)  # type: ignore[arg-type]
    page.generation = "current-token"
    for event in [*events, {"type": "navigated", "url": "http://x/", "seq": 1}]:
        driver._events.put_nowait(event)
    await asyncio.wait_for(driver._follow(page), 5)
    return login, emitted


@pytest.mark.asyncio
@pytest.mark.parametrize("gen", [None, 0, 1, "", "other-token", ["current-token"]])
async def test_events_without_the_current_token_are_dropped(gen: object) -> None:
    forged = [{"type": "logout"}, {"type": "ack", "id": "x", "ack": 3}, {"type": "state", "state": "UNPAIRED"},
              {"type": "message", "id": "m", "body": "!ping", "kind": "private"}]
    login, emitted = await _follow([{**event, "gen": gen} if gen is not None else event for event in forged])
    assert login.calls == [] and emitted == []


@pytest.mark.asyncio
async def test_the_script_events_with_the_current_token_count() -> None:
    login, emitted = await _follow([{"type": "ack", "id": "x", "ack": 3, "gen": "current-token"},
                                    {"type": "logout", "gen": "current-token"}])
    assert login.calls == ["logged_out"] and emitted == [("message.ack", {"id": "x", "ack": 3})]
