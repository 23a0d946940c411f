"""The worker's end of the control socket: framed reads, serialised writes."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from worker import protocol


class Link:
    """Reads requests and writes frames; one writer at a time, drained after each frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._write_lock = asyncio.Lock()
        self._up = True  # False once a write failed or the link was closed

    @classmethod
    async def open(cls, fd: int) -> Link:
        """Wrap the inherited socket ``fd`` (one end of the supervisor's socketpair)."""
        sock = socket.socket(fileno=fd)
        reader, writer = await asyncio.open_connection(sock=sock)
        return cls(reader, writer)

    async def read(self) -> dict[str, Any] | None:
        """The next message; None on EOF. Raises ProtocolError on a malformed frame."""
        try:
            return await protocol.read_message(self._reader)
        except (ConnectionError, OSError):
            return None

    async def send(self, message: dict[str, Any]) -> bool:
        """Write one frame; False if the peer is gone. Raises ProtocolError if it is too big."""
        frame = protocol.encode(message)
        async with self._write_lock:
            if not self._up:
                return False
            try:
                self._writer.write(frame)
                await self._writer.drain()
            except (ConnectionError, OSError):
                self._up = False
                return False
        return True

    async def close(self) -> None:
        """Close the socket (the supervisor sees EOF)."""
        async with self._write_lock:
            self._up = False
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)
            except (ConnectionError, OSError, TimeoutError):
                pass
