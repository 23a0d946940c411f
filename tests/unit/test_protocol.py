"""worker.protocol: encode, then read_message on a real StreamReader."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest

from worker import protocol
from worker.protocol import ProtocolError


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


MESSAGES: list[dict[str, Any]] = [
    protocol.make_request(7, protocol.OP_SEND_TEXT, {"to": "5511999999999@c.us", "text": "olá"}),
    protocol.make_request(8, protocol.OP_BOOT, {"session_id": "café-1", "chrome_extra_args": ["--x"]}),
    protocol.make_reply(7, {"id": "true_5511999999999@c.us_3EB0", "ack": 0}),
    protocol.make_reply(9),
    protocol.make_error(7, protocol.WorkerErrorType.CHROME_NOT_FOUND, "no chrome at /x"),
    protocol.make_event(protocol.EV_HEARTBEAT, {"seq": 1, "cdp_rtt_ms": None, "pss_bytes": 123}),
    protocol.make_event(protocol.EV_EXITING, {"code": 0, "kind": protocol.ExitKind.STOP, "reason": "stop requested"}),
]


async def _read_all(data: bytes) -> list[dict[str, Any] | None]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    results: list[dict[str, Any] | None] = []
    while True:
        message = await protocol.read_message(reader)
        results.append(message)
        if message is None:
            return results


@pytest.mark.asyncio
@pytest.mark.parametrize("message", MESSAGES)
async def test_round_trip(message: dict[str, Any]) -> None:
    data = protocol.encode(message)
    assert struct.unpack(">I", data[:4])[0] == len(data) - 4
    assert await _read_all(data) == [message, None]


def test_shapes() -> None:
    kinds = [protocol.kind_of(message) for message in MESSAGES]
    assert kinds == ["request", "request", "reply", "reply", "reply", "event", "event"]
    assert protocol.make_request(1, "stop") == {"id": 1, "op": "stop", "args": {}}


def test_size_cap_on_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol.frames, "MAX_FRAME_BYTES", 64)
    with pytest.raises(ProtocolError, match="exceeds 64"):
        protocol.encode(protocol.make_event("x", {"blob": "a" * 100}))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not UTF-8 JSON"),
        (b"\xff\xfe{}", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b'{"hello": 1}', "unknown shape"),
        (b'{"id": "7", "op": "stop"}', "unknown shape"),
        (b'{"id": 7, "op": "stop", "args": []}', "unknown shape"),
        (b'{"id": 7, "ok": false}', "unknown shape"),
        (b'{"event": 3}', "unknown shape"),
        (b'{"event": "x", "data": [1]}', "unknown shape"),
    ],
)
async def test_bad_bodies(body: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        await _read_all(frame(body))


def test_encode_is_compact_utf8() -> None:
    data = protocol.encode(protocol.make_event("x", {"name": "São Tomé"}))
    assert "São Tomé".encode() in data
    assert json.loads(data[4:]) == {"event": "x", "data": {"name": "São Tomé"}}


@pytest.mark.asyncio
async def test_read_message_then_clean_eof() -> None:
    data = b"".join(protocol.encode(message) for message in MESSAGES[:3])
    assert await _read_all(data) == [*MESSAGES[:3], None]


@pytest.mark.asyncio
@pytest.mark.parametrize("cut", [2, 4, 10])
async def test_read_message_eof_inside_a_frame(cut: int) -> None:
    data = protocol.encode(MESSAGES[0])
    reader = asyncio.StreamReader()
    reader.feed_data(data[:cut])
    reader.feed_eof()
    with pytest.raises(ProtocolError, match="closed inside a frame"):
        await protocol.read_message(reader)


@pytest.mark.asyncio
async def test_read_message_refuses_oversized_header() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(struct.pack(">I", protocol.MAX_FRAME_BYTES + 1))
    with pytest.raises(ProtocolError, match="exceeds"):
        await asyncio.wait_for(protocol.read_message(reader), 5)
