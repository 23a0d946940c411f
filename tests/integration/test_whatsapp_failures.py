"""How WhatsApp sessions fail, and say why: a page that never loads or never becomes ready, no
QR code, too many QR codes, CONFLICT, a blocked account; and what they follow instead of
failing: CONFLICT taken back, a device unlinked. Real daemon, workers, Chrome, simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from supervisor.sessions.bootspec import whatsapp_spec
from supervisor.settings import WhatsAppConfig
from tests.support.daemon import Daemon
from tests.support.pages import PageServer
from tests.support.wa import (
    PHONE_A,
    PHONE_B,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.support.workerproc import WorkerProc, boot_args
from tests.wasim import RunningSimulator
from worker import protocol

pytestmark = pytest.mark.chrome


def failed(d: Daemon, session_id: str) -> str:
    """Create ``session_id``, wait until FAILED; its last_error (it must not have restarted)."""
    d.client.post("/api/sessions", {"id": session_id})
    info = d.wait_state(session_id, "FAILED", timeout=30)
    assert info["restarts"] == 0, info
    return str(info["last_error"])


def test_each_way_of_not_logging_in_fails_with_its_reason(workdir: Path, free_port: int,
                                                          sim: RunningSimulator) -> None:
    with serving(wa_daemon(workdir, free_port, sim, whatsapp={
            "ready_timeout_s": 2.5, "qr_timeout_s": 1.5, "qr_max_refreshes": 3})) as d:
        sim.mode("hang")
        why = failed(d, "hang")
        assert "page never loaded" in why and "did not answer within 2.5s" in why
        sim.mode("fail_load")
        assert "answered HTTP 500" in failed(d, "broken")
        sim.mode("no_debug")
        assert "page never became ready" in failed(d, "never")
        sim.mode("normal")
        sim.config(open_ms=60000)  # the page stays OPENING: no QR code comes
        why = failed(d, "noqr")
        assert "no QR code within 1.5s" in why and "OPENING" in why
        sim.config(open_ms=50, ref_ttl_s=0.3)  # a new QR every 0.3 s, nobody scans
        assert "too many QR refreshes: 3 QR codes shown" in failed(d, "toomany")
        qrs = wait_event(d, lambda e: e["payload"]["attempt"] == 3, "session.qr", session="toomany")
        assert [e["payload"]["attempt"] for e in qrs] == [1, 2, 3]

        sim.config(ref_ttl_s=20)
        d.client.post("/api/sessions", {"id": "taken"})
        login(d, sim, "taken", PHONE_A)
        sim.set_state("CONFLICT", phone=PHONE_A)
        info = d.wait_state("taken", "FAILED")
        assert "CONFLICT" in info["last_error"] and "takeover_on_conflict" in info["last_error"]
        assert info["restarts"] == 0


def test_conflict_taken_back_device_unlinked_account_blocked(workdir: Path, free_port: int,
                                                              sim: RunningSimulator) -> None:
    with serving(wa_daemon(workdir, free_port, sim, whatsapp={"takeover_on_conflict": True})) as d:
        for session_id, phone in (("t", PHONE_A), ("u", PHONE_B)):
            d.client.post("/api/sessions", {"id": session_id})
            login(d, sim, session_id, phone)
        sim.set_state("CONFLICT", phone=PHONE_A)
        reasons: list[str] = []

        def back_after_conflict(event: dict[str, Any]) -> bool:
            reasons.append(f"{event['payload']['state']}: {event['payload']['reason']}")
            return event["payload"]["state"] == "WORKING" and any("CONFLICT" in r for r in reasons)

        wait_event(d, back_after_conflict, "session.status", session="t")
        assert "STARTING: CONFLICT: taking the session back" in reasons
        assert d.session("t")["phone_number"] == PHONE_A

        sim.set_state("UNPAIRED", phone=PHONE_A)  # unlinked, without the logout navigation
        logout = wait_event(d, lambda e: True, "session.logout", session="t")
        assert logout[-1]["payload"] == {"origin": "unpaired", "phone_number": PHONE_A}
        d.wait_state("t", "STOPPED")

        sim.set_state("TOS_BLOCK", phone=PHONE_B)
        info = d.wait_state("u", "FAILED")
        assert "TOS_BLOCK" in info["last_error"] and info["restarts"] == 0


def test_worker_reports_a_page_that_never_becomes_ready_with_a_desktop_user_agent(workdir: Path) -> None:
    options = whatsapp_spec(WhatsAppConfig(ready_timeout_s=1.5))
    with PageServer() as pages:
        worker = WorkerProc(workdir / "state", "w")
        try:
            assert worker.boot(boot_args(workdir / "state", "w", pages.url("/"), whatsapp=options))["ok"]
            worker.wait_event(protocol.EV_STATE, 10, state="STARTING")
            failure = worker.wait_event(protocol.EV_STATE, 15, state="FAILED")
            assert "page never became ready" in failure["reason"] and "1.5s" in failure["reason"]
            assert worker.wait_exit(15) == protocol.EXIT_BOOT_FAILURE
        finally:
            worker.close()
        (agent,) = pages.user_agents
        assert "HeadlessChrome" not in agent and "Chrome/" in agent and "X11; Linux" in agent
