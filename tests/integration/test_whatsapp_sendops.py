"""Exactly-once sends, the worker's part: a send under an id made beforehand (new_message_id),
the send queue's id echoed in ``message.sent``, and find_sent, which still finds the message
after the worker was killed with SIGKILL and its page reloaded. One worker alone on the
simulator of each WhatsApp Web build, spoken to over its socket (the supervisor's send queue
drives these operations; its API does not offer them)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import kill_marked, marked_processes, wait_until
from tests.support.wa import CHAT, NOBODY, PHONE_A
from tests.support.workerproc import WorkerProc, boot_args, whatsapp_args
from tests.wasim import RunningSimulator
from worker import protocol
from worker.drivers.pageops import MSG_ID

pytestmark = pytest.mark.chrome



@pytest.fixture
def sim(sim_each_build: RunningSimulator) -> RunningSimulator:
    sim_each_build.config(not_on_whatsapp=[NOBODY])
    return sim_each_build


def _start(state_dir: Path, sim: RunningSimulator) -> WorkerProc:
    proc = WorkerProc(state_dir, "s1")
    reply = proc.boot(boot_args(state_dir, "s1", sim.url, whatsapp=whatsapp_args()))
    assert reply["ok"], f"{reply}\n{proc.log_tail()}"
    return proc


def _logged_in(state_dir: Path, sim: RunningSimulator) -> WorkerProc:
    proc = _start(state_dir, sim)
    sim.scan(qr=proc.wait_event(protocol.EV_QR, 30)["qr"], phone=PHONE_A)
    proc.wait_event(protocol.EV_STATE, 60, state=protocol.WorkerState.WORKING)
    return proc


def _ok(proc: WorkerProc, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = proc.request(op, args)
    assert reply["ok"], f"{op}: {reply}\n{proc.log_tail()}"
    result: dict[str, Any] = reply["result"]
    return result


def _refused(proc: WorkerProc, op: str, args: dict[str, Any]) -> str:
    """The message of the InvalidRequest refusal of ``op``."""
    reply = proc.request(op, args)
    assert not reply["ok"] and reply["error"]["type"] == protocol.ErrorType.INVALID_REQUEST, reply
    return str(reply["error"]["message"])


def _events(proc: WorkerProc, name: str) -> list[dict[str, Any]]:
    return [m["data"] for m in proc.seen if m.get("event") == name]


def _event(proc: WorkerProc, name: str, **match: Any) -> dict[str, Any]:
    """The first event ``name`` whose data has ``match``, received already or next."""
    for data in _events(proc, name):
        if all(data.get(k) == v for k, v in match.items()):
            return data
    return proc.wait_event(name, 20, **match)


def _stop(proc: WorkerProc) -> None:
    assert proc.request(protocol.OP_STOP)["ok"]
    assert proc.wait_exit(15) == protocol.EXIT_OK


def test_a_send_under_its_id_is_found_again_after_sigkill(tmp_path: Path, sim: RunningSimulator) -> None:
    state_dir = tmp_path / "state"
    procs: list[WorkerProc] = []
    try:
        first = _logged_in(state_dir, sim)
        procs.append(first)
        made = [_ok(first, protocol.OP_NEW_MESSAGE_ID)["msg_id"] for _ in range(2)]
        assert made[0] != made[1] and all(MSG_ID.fullmatch(m) for m in made), made
        msg_id, never_sent = made

        # The send goes out under exactly that id, once; message.sent names the queue entry.
        args = {"to": CHAT, "text": "exactly once", "msg_id": msg_id, "queue_id": 41}
        sent = _ok(first, protocol.OP_SEND_TEXT, args)
        assert sent["id"].split("_")[0::2] == ["true", msg_id]
        event = _event(first, protocol.EV_MESSAGE_SENT, id=sent["id"])
        assert (event["queue_id"], event["body"], event["to"]) == (41, "exactly once", sent["to"])
        assert [(m["id"], m["body"], m["copies"]) for m in sim.sent(phone=PHONE_A)] == [
            (sent["id"], "exactly once", 1)]
        _event(first, protocol.EV_MESSAGE_ACK, id=sent["id"], ack=1)  # the server has it

        # A retry under the same id: the page answers the message it holds and sends nothing.
        again = _ok(first, protocol.OP_SEND_TEXT, args)
        assert (again["id"], again["already_sent"]) == (sent["id"], True)
        assert [m["copies"] for m in sim.sent(phone=PHONE_A)] == [1]
        assert len(_events(first, protocol.EV_MESSAGE_SENT)) == 1

        found = _ok(first, protocol.OP_FIND_SENT, {"to": CHAT, "msg_id": msg_id})
        assert found == {"found": True, "id": sent["id"], "to": sent["to"], "ack": 1,
                         "timestamp": sent["timestamp"]}
        assert _ok(first, protocol.OP_FIND_SENT, {"to": CHAT, "msg_id": never_sent}) == {"found": False}

        # More than a page of history after ours: a reloaded page must page back to find it.
        for n in range(55):
            sim.incoming(CHAT, f"later {n}", phone=PHONE_A)
        os.kill(first.proc.pid, signal.SIGKILL)
        assert first.wait_exit(15) == -signal.SIGKILL
        wait_until(lambda: not marked_processes(state_dir), timeout=30, message="the worker's Chrome gone")

        # The same profile again: logged in without a QR, the page reloaded and empty.
        second = _start(state_dir, sim)
        procs.append(second)
        second.wait_event(protocol.EV_STATE, 60, state=protocol.WorkerState.WORKING)
        assert _events(second, protocol.EV_QR) == []
        loads = len(sim.activity(phone=PHONE_A, kind="earlier"))
        found = _ok(second, protocol.OP_FIND_SENT, {"to": CHAT, "msg_id": msg_id})
        assert found == {"found": True, "id": sent["id"], "to": sent["to"], "ack": 1,
                         "timestamp": sent["timestamp"]}
        # Two pages back: the 50 latest, then ours and the 5 after it.
        assert [a["count"] for a in sim.activity(phone=PHONE_A, kind="earlier")[loads:]] == [50, 6]
        assert _ok(second, protocol.OP_FIND_SENT, {"to": CHAT, "msg_id": never_sent}) == {"found": False}
        # Now that the page holds it again, a send under its id is answered, not repeated.
        assert _ok(second, protocol.OP_SEND_TEXT, args)["already_sent"] is True
        assert [(m["id"], m["copies"]) for m in sim.sent(phone=PHONE_A)] == [(sent["id"], 1)]
        assert _events(second, protocol.EV_MESSAGE_SENT) == []
        _stop(second)
    finally:
        for proc in procs:
            proc.close()
        kill_marked(state_dir)


def test_bad_ids_are_refused_and_media_goes_under_its_id(tmp_path: Path, sim: RunningSimulator) -> None:
    state_dir = tmp_path / "state"
    proc = _logged_in(state_dir, sim)
    try:
        for bad in ["3eb0a1b2c3d4e5f6a7b8", "3EB0_A1B2C3D4E5F6", "3EB0", "A" * 65, 1234567890, ""]:
            message = _refused(proc, protocol.OP_SEND_TEXT, {"to": CHAT, "text": "x", "msg_id": bad})
            assert "msg_id must be" in message
            assert "msg_id must be" in _refused(proc, protocol.OP_FIND_SENT, {"to": CHAT, "msg_id": bad})
        for bad_queue_id in ["7", True, -1, 2**63]:
            message = _refused(proc, protocol.OP_SEND_TEXT, {"to": CHAT, "text": "x", "queue_id": bad_queue_id})
            assert "queue_id must be" in message
        # Each operation takes the keys of its protocol TypedDict, no others.
        assert "find_sent needs to" in _refused(proc, protocol.OP_FIND_SENT, {"msg_id": "3EB0A1B2C3D4E5F6A7B8"})
        assert "to must be" in _refused(proc, protocol.OP_FIND_SENT, {"to": "", "msg_id": "3EB0A1B2C3D4E5F6A7B8"})
        assert "react takes no chat" in _refused(proc, protocol.OP_REACT, {"id": "x", "emoji": "", "chat": CHAT})
        assert sim.sent(phone=PHONE_A) == [] and _events(proc, protocol.EV_MESSAGE_SENT) == []

        # Nobody on WhatsApp, or a chat never written to: nothing of ours there.
        for to in (f"{NOBODY}@c.us", "5511955554444@c.us"):
            assert _ok(proc, protocol.OP_FIND_SENT, {"to": to, "msg_id": "3EB0A1B2C3D4E5F6A7B8"}) == {"found": False}

        # A document under an id of its own, found again under it.
        scratch = Path(boot_args(state_dir, "s1", sim.url)["tmp_dir"]) / protocol.MEDIA_SCRATCH
        scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        (scratch / "terms.txt").write_bytes(b"the terms, once")
        msg_id = _ok(proc, protocol.OP_NEW_MESSAGE_ID)["msg_id"]
        sent = _ok(proc, protocol.OP_SEND_MEDIA, {
            "to": CHAT, "path": str(scratch / "terms.txt"), "kind": protocol.MediaKind.DOCUMENT,
            "mimetype": "text/plain", "filename": "terms.txt", "caption": "", "msg_id": msg_id, "queue_id": 7})
        assert sent["id"].split("_")[2] == msg_id
        event = _event(proc, protocol.EV_MESSAGE_SENT, id=sent["id"])
        assert (event["queue_id"], event["type"], event["filename"]) == (7, "document", "terms.txt")
        assert [(m["id"], m["filename"], m["copies"]) for m in sim.sent(phone=PHONE_A)] == [
            (sent["id"], "terms.txt", 1)]
        assert _ok(proc, protocol.OP_FIND_SENT, {"to": CHAT, "msg_id": msg_id})["id"] == sent["id"]

        # The same id twice at once (a retry while the first is still going): one message.
        twin = _ok(proc, protocol.OP_NEW_MESSAGE_ID)["msg_id"]
        args = {"to": CHAT, "text": "twins", "msg_id": twin}
        for n in (9001, 9002):
            proc.send(protocol.make_request(n, protocol.OP_SEND_TEXT, args))
        replies = [proc.wait_message(lambda m: m.get("id") in (9001, 9002), 20, "the replies") for _ in range(2)]
        assert all(r["ok"] for r in replies), replies
        assert sorted(r["result"].get("already_sent", False) for r in replies) == [False, True]
        assert len({r["result"]["id"] for r in replies}) == 1
        assert [m["copies"] for m in sim.sent(phone=PHONE_A) if m["body"] == "twins"] == [1]
        assert len([e for e in _events(proc, protocol.EV_MESSAGE_SENT) if e.get("body") == "twins"]) == 1
        _stop(proc)
    finally:
        proc.close()
        kill_marked(state_dir)
