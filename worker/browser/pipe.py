"""CDP over Chrome's ``--remote-debugging-pipe``: no DevTools port, no listening socket at all.

With ``--remote-debugging-port`` Chrome's DevTools listens on 127.0.0.1 without any
authentication: any local user can attach, open a ``file://`` tab and read what the daemon's
user may read, or drive the WhatsApp account. With the pipe, the only way in is the two file
descriptors its worker holds. Chrome reads commands from its fd 3 and writes answers and
events to its fd 4, each message one JSON text followed by a NUL byte.

:class:`DevToolsPipe` gives pyppeteer's ``Connection`` what it expects of its websocket
(``recv``, ``send``, ``close``, used as an async context manager); :class:`PipeConnection`
is that ``Connection`` with the pipe in place of the websocket. Both lean on pyppeteer 2.0.0's
internals (``Connection._ws`` is opened by its receive task, which ends on
``ConnectionResetError``), so they live here, beside browser.cdp, the other module allowed to.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pyppeteer.connection import Connection

__all__ = ["CHROME_READ_FD", "CHROME_WRITE_FD", "DevToolsPipe", "PipeConnection", "MAX_MESSAGE_BYTES"]

#: The descriptors Chrome uses with --remote-debugging-pipe (fixed by Chrome).
CHROME_READ_FD = 3
CHROME_WRITE_FD = 4
#: Largest single CDP message accepted from Chrome (a full-page screenshot is a few MiB of
#: base64; the websocket had no limit at all): bounds what one message may make us buffer.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_SEPARATOR = b"\0"
#: What Connection.url reports (pyppeteer shows it as Browser.wsEndpoint).
_PIPE_URL = "pipe://devtools"


class DevToolsPipe:
    """Our ends of Chrome's two DevTools pipes, as the websocket pyppeteer expects."""

    def __init__(self, reader: asyncio.StreamReader, read_transport: asyncio.BaseTransport,
                 writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._read_transport = read_transport
        self._writer = writer

    @classmethod
    async def open(cls, read_fd: int, write_fd: int) -> DevToolsPipe:
        """Wrap ``read_fd`` (Chrome's fd 4, its answers) and ``write_fd`` (Chrome's fd 3);
        both are owned by the pipe from here on (closed by :meth:`close`)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
        try:
            read_transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0))
        except BaseException:
            os.close(write_fd)
            raise
        try:
            # A StreamReaderProtocol (its reader unused) gives the writer flow control (drain).
            transport, protocol = await loop.connect_write_pipe(
                lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()),
                os.fdopen(write_fd, "wb", buffering=0))
        except BaseException:
            read_transport.close()
            raise
        return cls(reader, read_transport, asyncio.StreamWriter(transport, protocol, None, loop))

    async def __aenter__(self) -> DevToolsPipe:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def recv(self) -> str:
        """The next message from Chrome; ConnectionResetError once Chrome closed its end
        (pyppeteer's receive loop ends on it and disposes the connection)."""
        try:
            message = await self._reader.readuntil(_SEPARATOR)
        except asyncio.IncompleteReadError:
            raise ConnectionResetError("Chrome closed its DevTools pipe") from None
        except asyncio.LimitOverrunError:
            raise ConnectionResetError(f"a DevTools message over {MAX_MESSAGE_BYTES} bytes") from None
        return message[:-1].decode("utf-8", errors="replace")

    async def send(self, message: str) -> None:
        """Write one message. Once Chrome is gone, sends are dropped: the receive side sees
        the end of the pipe and fails every pending call."""
        if self._writer.is_closing():
            return
        self._writer.write(message.encode("utf-8") + _SEPARATOR)
        try:
            await self._writer.drain()
        except ConnectionError:
            pass

    async def close(self) -> None:
        """Close both ends (Chrome exits when its command pipe ends). Idempotent."""
        self._writer.close()
        self._read_transport.close()


class PipeConnection(Connection):
    """pyppeteer's Connection, speaking over a :class:`DevToolsPipe` instead of a websocket."""

    def __init__(self, pipe: DevToolsPipe, loop: asyncio.AbstractEventLoop) -> None:
        # The base class builds a websocket client (not connected yet) and starts its receive
        # task, which opens self._ws on its first run: swapping it before that task runs is
        # all it takes. The placeholder URL is never dialled.
        super().__init__("ws://devtools.invalid/", loop)
        self._ws: Any = pipe
        self._url = _PIPE_URL
