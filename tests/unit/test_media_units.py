"""Media checks (kind, mimetype, first bytes), message ids, the page's messaging events, and the
[media] section: alone, without processes."""

from __future__ import annotations

import asyncio
import time
import typing

import pytest

from supervisor.config import Config
from supervisor.errors import InvalidRequest
from supervisor.sessions import chats
from supervisor.sessions.media import resolve_kind, sniff
from supervisor.sessions.messaging import message_id, reply_fields
from supervisor.settings import InvalidValue, MediaConfig
from tests.support.media import HEADS
from worker import protocol
from worker.drivers.pageops import page_event
from worker.ops import DRIVER_OPS


@pytest.mark.parametrize(("kind", "mimetype"), [
    ("image", "image/png"), ("video", "video/mp4"), ("audio", "audio/mpeg"), ("ptt", "audio/ogg"),
    ("document", "application/pdf"), ("sticker", "image/webp")])
def test_first_bytes_say_what_a_file_is(kind: str, mimetype: str) -> None:
    assert sniff(HEADS[kind] + b"\x00" * 64) == mimetype


def test_kind_and_mimetype() -> None:
    png = HEADS["image"]
    assert resolve_kind(None, False, None, "", png) == ("image", "image/png")
    assert resolve_kind(None, False, None, "x.bin", b"\x01\x02") == ("document", "application/octet-stream")
    assert resolve_kind(None, False, None, "notes.txt", b"hello") == ("document", "text/plain")
    assert resolve_kind(None, True, None, "n.ogg", HEADS["ptt"]) == ("ptt", "audio/ogg")
    assert resolve_kind("document", False, "image/png", "p.png", png) == ("document", "image/png")
    assert resolve_kind(None, False, "audio/ogg; codecs=opus", "", HEADS["ptt"])[0] == "audio"
    with pytest.raises(InvalidRequest, match="by its content"):
        resolve_kind("image", False, "image/png", "", HEADS["document"])
    with pytest.raises(InvalidRequest, match="a sticker must be"):
        resolve_kind("sticker", False, None, "", png)
    with pytest.raises(InvalidRequest, match="voice notes are audio"):
        resolve_kind("image", True, None, "", png)
    with pytest.raises(InvalidRequest, match="not one of"):
        resolve_kind("gif", False, None, "", png)
    with pytest.raises(InvalidRequest, match="not a mimetype"):
        resolve_kind(None, False, "nonsense", "", png)


def test_message_ids_and_reply_fields() -> None:
    assert message_id("true_5511999999999@c.us_3EB0ABC") == "true_5511999999999@c.us_3EB0ABC"
    group = "false_120363000000000001@g.us_3A0F_52433232973881@lid"
    assert message_id(group) == group
    for bad in ("", "x", "true_abc", "maybe_1@c.us_X", 7, None, "true_1@c.us_X/../../etc"):
        with pytest.raises(InvalidRequest):
            message_id(bad)
    assert reply_fields("true_1234567@c.us_AB", ["+244 929 782 402", "1234567@lid"]) == {
        "reply_to": "true_1234567@c.us_AB", "mentions": ["244929782402@c.us", "1234567@lid"]}
    with pytest.raises(InvalidRequest, match="mentions"):
        reply_fields(None, "244929782402")


def test_page_events_become_worker_events() -> None:
    assert page_event({"type": "reaction", "gen": "g", "id": "r", "emoji": "👍"}) == (
        protocol.EV_MESSAGE_REACTION, {"id": "r", "emoji": "👍"})
    assert page_event({"type": "group", "subtype": "invite", "group_id": "g"}) == (
        protocol.EV_GROUP_JOIN, {"group_id": "g", "how": "invite"})
    assert page_event({"type": "group", "subtype": "remove"})[0] == protocol.EV_GROUP_LEAVE  # type: ignore[index]
    assert page_event({"type": "group", "subtype": "promote"}) is None
    assert page_event({"type": "message"}) is None
    assert protocol.MESSAGING_OPS <= DRIVER_OPS


def test_every_messaging_operation_has_typed_arguments() -> None:
    """One TypedDict per operation (worker/protocol), checked on the worker's side by key."""
    assert set(protocol.MESSAGING_ARGS) == protocol.MESSAGING_OPS and len(protocol.MESSAGING_OPS) == 15
    for op, shape in protocol.MESSAGING_ARGS.items():
        assert typing.is_typeddict(shape) and shape.__doc__, op
    assert protocol.args_problem(protocol.OP_REACT, {"id": "x", "emoji": ""}) is None
    assert protocol.args_problem(protocol.OP_REACT, {"id": "x"}) == "react needs emoji"
    assert protocol.args_problem(protocol.OP_LIST_GROUPS, {"limit": 3}) == (
        "list_groups takes no limit (it takes nothing)")
    assert protocol.args_problem(protocol.OP_CHAT_MESSAGES, {"chat": "c", "limit": 5}) is None  # before: optional
    send = {"to": "t", "path": "p", "kind": "image", "mimetype": "m", "filename": "f", "caption": ""}
    assert protocol.args_problem(protocol.OP_SEND_MEDIA, {**send, "msg_id": "A" * 8, "queue_id": 1}) is None
    no_caption = {k: v for k, v in send.items() if k != "caption"}
    assert protocol.args_problem(protocol.OP_SEND_MEDIA, no_caption) == "send_media needs caption"


def test_media_config_rules() -> None:
    config = MediaConfig()
    assert config.max_bytes("ptt") == config.max_audio_bytes == 16 * 1024 * 1024
    assert config.max_bytes("document") == 100 * 1024 * 1024
    with pytest.raises(InvalidValue, match="max_image_bytes"):
        MediaConfig(max_image_bytes=10)
    with pytest.raises(InvalidValue, match="check_batch_max"):
        MediaConfig(check_batch_max=0)


def test_number_checks_of_one_session_are_paced_across_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches at once are looked up one number at a time, check_interval_s apart."""
    asked: list[tuple[str, float]] = []

    async def ask(session: object, op: str, args: dict[str, str]) -> dict[str, object]:
        asked.append((args["phone"], time.monotonic()))
        return {"phone": args["phone"], "on_whatsapp": True}

    monkeypatch.setattr(chats, "_ask", ask)
    session = type("S", (), {"id": "s"})()
    session.ctx = type("C", (), {"config": Config(media=MediaConfig(check_interval_s=0.05))})()

    async def both() -> None:
        await asyncio.gather(chats.check_numbers(session, ["5511911111111", "5511922222222"]),  # type: ignore[arg-type]
                             chats.check_numbers(session, ["5511933333333"]))  # type: ignore[arg-type]

    asyncio.run(both())
    times = sorted(t for _, t in asked)
    assert len(times) == 3
    # asyncio may fire a timer up to its clock resolution early: a millisecond of slack.
    assert all(b - a >= 0.049 for a, b in zip(times, times[1:])), times
