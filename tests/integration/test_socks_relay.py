"""The worker's SOCKS5 relay (worker.browser.socksrelay) on its own, against a real SOCKS5 proxy
(Debian's microsocks, with user and password) and a local echo server: it relays, it says why
the proxy failed, and it serves no other user's processes."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.proxies import Microsocks
from tests.support.proxies import free_port as unused_port
from worker.browser.socksrelay import SocksRelay, peer_uid

PASSWORD = "p@ss w:rd"


@pytest_asyncio.fixture
async def echo() -> AsyncIterator[int]:
    """A TCP echo server on loopback; its port."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def socks_connect(relay_port: int, target_port: int) -> tuple[bytes, asyncio.StreamReader,
                                                                      asyncio.StreamWriter]:
    """Speak SOCKS5 to the relay as Chrome does (no authentication, CONNECT by name); the
    relay's reply to the CONNECT and the open streams."""
    reader, writer = await asyncio.open_connection("127.0.0.1", relay_port)
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    name = b"127.0.0.1"
    writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", target_port))
    return await reader.readexactly(10), reader, writer


@pytest.mark.asyncio
async def test_the_relay_logs_in_to_the_proxy_and_carries_the_bytes(tmp_path: Path, echo: int) -> None:
    rejected: list[str] = []
    with Microsocks(tmp_path, user="zap", password=PASSWORD) as proxy:
        relay = SocksRelay("127.0.0.1", proxy.port, "zap", PASSWORD, rejected.append)
        port = await relay.start()
        try:
            reply, reader, writer = await socks_connect(port, echo)
            assert reply[:2] == b"\x05\x00"  # the proxy's own answer: connected
            writer.write(b"hello through the proxy")
            assert await reader.readexactly(23) == b"hello through the proxy"
            assert proxy.requested(f"127.0.0.1:{echo}")
            assert peer_uid(writer.get_extra_info("sockname")[1], port) == os.getuid()
        finally:
            await relay.close()  # ends the relayed connection too
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    assert rejected == [] and relay.last_error == ""


@pytest.mark.asyncio
async def test_wrong_credentials_and_an_unreachable_proxy_are_told_apart(tmp_path: Path, echo: int) -> None:
    rejected: list[str] = []
    with Microsocks(tmp_path, user="zap", password=PASSWORD) as proxy:
        for upstream, expected in ((proxy.port, "the proxy rejected the credentials"),
                                   (unused_port(), "cannot reach it: Connection refused")):
            relay = SocksRelay("127.0.0.1", upstream, "zap", "wrong", rejected.append)
            port = await relay.start()
            try:
                reply, _, writer = await socks_connect(port, echo)
                writer.close()
            finally:
                await relay.close()
            assert reply[:2] == b"\x05\x01"  # general failure: Chrome says ERR_SOCKS_CONNECTION_FAILED
            assert relay.last_error == expected
        assert not proxy.requested(f"127.0.0.1:{echo}")
    assert rejected == ["the proxy rejected the credentials"]  # unreachable is not a rejection


@pytest.mark.asyncio
async def test_the_relay_serves_no_process_of_another_user(tmp_path: Path, echo: int) -> None:
    with Microsocks(tmp_path, user="zap", password=PASSWORD) as proxy:
        # As if the relay's worker ran under another uid than this test's process.
        relay = SocksRelay("127.0.0.1", proxy.port, "zap", PASSWORD, lambda reason: None,
                           uid=os.getuid() + 1)
        port = await relay.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\x05\x01\x00")
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, not a byte said
            writer.close()
        finally:
            await relay.close()
        assert "connected to" not in proxy.log()
