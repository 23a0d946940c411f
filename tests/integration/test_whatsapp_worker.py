"""One worker alone on the WhatsApp simulator (no daemon): every send it makes, the API's and its
bot's, is reported as ``message.sent`` with its origin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import kill_marked
from tests.support.wa import CONTACT, PHONE_A, fast_simulator
from tests.support.workerproc import WorkerProc, boot_args, whatsapp_args
from tests.wasim import RunningSimulator
from worker import protocol

pytestmark = pytest.mark.chrome


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with fast_simulator(ref_ttl_s=30.0) as running:  # one QR for the whole login
        yield running


@pytest.fixture
def worker(tmp_path: Path, sim: RunningSimulator) -> Iterator[WorkerProc]:
    state_dir = tmp_path / "state"
    proc = WorkerProc(state_dir, "s1")
    try:
        reply = proc.boot(boot_args(state_dir, "s1", sim.url,
                                    whatsapp=whatsapp_args(commands=["ping"])))
        assert reply["ok"], f"{reply}\n{proc.log_tail()}"
        qr = proc.wait_event(protocol.EV_QR, 30)["qr"]
        sim.scan(qr=qr, phone=PHONE_A)
        proc.wait_event(protocol.EV_STATE, 30, state=protocol.WorkerState.WORKING)
        yield proc
        assert proc.request(protocol.OP_STOP)["ok"]
        assert proc.wait_exit(15) == protocol.EXIT_OK
    finally:
        proc.close()
        kill_marked(state_dir)


def _sent_events(worker: WorkerProc) -> list[dict[str, Any]]:
    return [m["data"] for m in worker.seen if m.get("event") == protocol.EV_MESSAGE_SENT]


def test_api_and_bot_sends_emit_message_sent(worker: WorkerProc, sim: RunningSimulator) -> None:
    chat = f"{CONTACT}@c.us"
    reply = worker.request(protocol.OP_SEND_TEXT, {"to": chat, "text": "olá"})
    assert reply["ok"], reply
    result = reply["result"]
    # Reported before the reply: a client that hears of the send has the event already.
    index = {id(m): i for i, m in enumerate(worker.seen)}
    events = [m for m in worker.seen if m.get("event") == protocol.EV_MESSAGE_SENT]
    assert len(events) == 1 and index[id(events[0])] < index[id(reply)]
    assert events[0]["data"] == {"id": result["id"], "to": chat, "ack": result["ack"],
                                 "timestamp": result["timestamp"], "body": "olá", "type": "chat",
                                 "origin": protocol.MessageOrigin.API, "reply_to": None, "mentions": []}

    sim.incoming(chat, "!ping", phone=PHONE_A)
    bot = worker.wait_event(protocol.EV_MESSAGE_SENT, 20, origin=protocol.MessageOrigin.BOT)
    page_sent = sim.sent(phone=PHONE_A)
    assert [(m["id"], m["to"], m["body"]) for m in page_sent] == [
        (result["id"], chat, "olá"), (bot["id"], chat, "pong")]
    assert bot["to"] == chat and bot["body"] == "pong" and isinstance(bot["timestamp"], int)
    assert len(_sent_events(worker)) == 2  # one event per send, no more
