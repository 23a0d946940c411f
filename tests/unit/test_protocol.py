"""worker.protocol: the frame codec alone, then read_message on a real StreamReader."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest

from worker import protocol
from worker.protocol import FrameDecoder, ProtocolError


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


MESSAGES: list[dict[str, Any]] = [
    protocol.make_request(7, protocol.OP_SCREENSHOT),
    protocol.make_request(8, protocol.OP_BOOT, {"session_id": "café-1", "chrome_extra_args": ["--x"]}),
    protocol.make_reply(7, {"png_b64": "iVBORw0KGgo="}),
    protocol.make_reply(9),
    protocol.make_error(7, protocol.WorkerErrorType.CHROME_NOT_FOUND, "no chrome at /x"),
    protocol.make_event(protocol.EV_HEARTBEAT, {"seq": 1, "cdp_rtt_ms": None, "pss_bytes": 123}),
    protocol.make_event(protocol.EV_EXITING, {"code": 0, "kind": protocol.ExitKind.STOP, "reason": "stop requested"}),
]


@pytest.mark.parametrize("message", MESSAGES)
def test_round_trip(message: dict[str, Any]) -> None:
    data = protocol.encode(message)
    assert struct.unpack(">I", data[:4])[0] == len(data) - 4
    assert FrameDecoder().feed(data) == [message]


def test_shapes() -> None:
    kinds = [protocol.kind_of(message) for message in MESSAGES]
    assert kinds == ["request", "request", "reply", "reply", "reply", "event", "event"]
    assert protocol.make_request(1, "ping") == {"id": 1, "op": "ping", "args": {}}


def test_byte_by_byte_feed_yields_every_message_once() -> None:
    stream = b"".join(protocol.encode(message) for message in MESSAGES)
    decoder = FrameDecoder()
    received = []
    for index in range(len(stream)):
        received.extend(decoder.feed(stream[index : index + 1]))
    assert received == MESSAGES
    assert decoder.pending_bytes == 0


def test_several_frames_in_one_chunk_and_a_partial_tail() -> None:
    stream = protocol.encode(MESSAGES[0]) + protocol.encode(MESSAGES[1])
    tail = protocol.encode(MESSAGES[2])
    decoder = FrameDecoder()
    assert decoder.feed(stream + tail[:5]) == MESSAGES[:2]
    assert decoder.pending_bytes == 5  # a truncated frame is held back, not decoded
    assert decoder.feed(tail[5:]) == [MESSAGES[2]]


def test_size_cap_on_decode() -> None:
    decoder = FrameDecoder(max_frame_bytes=16)
    with pytest.raises(ProtocolError, match="exceeds 16"):
        decoder.feed(struct.pack(">I", 17))  # refused from the header alone
    assert FrameDecoder(max_frame_bytes=16).feed(frame(b'{"event":"x"}')) == [{"event": "x"}]


def test_size_cap_on_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "MAX_FRAME_BYTES", 64)
    with pytest.raises(ProtocolError, match="exceeds 64"):
        protocol.encode(protocol.make_event("x", {"blob": "a" * 100}))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not UTF-8 JSON"),
        (b"\xff\xfe{}", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b'{"hello": 1}', "unknown shape"),
        (b'{"id": "7", "op": "ping"}', "unknown shape"),
        (b'{"id": 7, "op": "ping", "args": []}', "unknown shape"),
        (b'{"id": 7, "ok": false}', "unknown shape"),
        (b'{"event": 3}', "unknown shape"),
        (b'{"event": "x", "data": [1]}', "unknown shape"),
    ],
)
def test_bad_bodies(body: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        FrameDecoder().feed(frame(body))


def test_encode_is_compact_utf8() -> None:
    data = protocol.encode(protocol.make_event("x", {"name": "São Tomé"}))
    assert "São Tomé".encode() in data
    assert json.loads(data[4:]) == {"event": "x", "data": {"name": "São Tomé"}}


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


@pytest.mark.asyncio
async def test_read_message_bad_json() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(frame(b"{nope"))
    with pytest.raises(ProtocolError):
        await protocol.read_message(reader)
