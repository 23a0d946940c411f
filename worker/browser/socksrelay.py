"""A local SOCKS5 relay that logs in to a SOCKS5 proxy for Chrome.

Chrome speaks SOCKS5 without authentication only (crbug.com/256785: username/password, RFC
1929, is not implemented), so a SOCKS5 proxy with credentials is reached through this relay:
Chrome gets ``--proxy-server=socks5://127.0.0.1:<port>``, the relay greets Chrome without
authentication, logs in to the real proxy with the user name and password, then passes bytes
both ways (Chrome's CONNECT request and the proxy's answer included: the relay does not need
to read them). The credentials stay in the worker's memory.

Only processes of the worker's own user may use the relay: any local user can connect to
127.0.0.1, and would otherwise ride the session's proxy account. The peer's uid is read from
/proc/net/tcp{,6}, on the line of the peer's end of the connection.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from worker.logs import get_logger

__all__ = ["SocksRelay"]

_VERSION, _NO_AUTH, _USER_PASSWORD, _NO_METHOD = 5, 0, 2, 0xFF
_GENERAL_FAILURE = bytes([5, 1, 0, 1, 0, 0, 0, 0, 0, 0])  # reply to a request: "general failure"
_HANDSHAKE_S = 10.0
_CHUNK = 65536
_ADDRESS_LENGTH = {1: 4, 4: 16}  # ATYP -> bytes (3, a name, says its own length)

log = get_logger()


class UpstreamFailed(Exception):
    """The real proxy could not be reached or used; ``rejected``: it refused the credentials."""

    def __init__(self, reason: str, rejected: bool = False) -> None:
        super().__init__(reason)
        self.rejected = rejected


def peer_uid(peer_port: int, our_port: int) -> int | None:
    """The uid owning the local TCP socket on ``peer_port`` connected to ``our_port``, from
    /proc/net/tcp and tcp6 (columns: sl, local, remote, st, queues, tr, retrnsmt, uid, ...)."""
    local, remote = f":{peer_port:04X}", f":{our_port:04X}"
    for name in ("tcp", "tcp6"):
        try:
            lines = Path("/proc/net", name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 7 and fields[1].endswith(local) and fields[2].endswith(remote):
                return int(fields[7])
    return None


class SocksRelay:
    """Relays local SOCKS5 (no authentication) to ``host``:``port`` with RFC 1929
    credentials. ``on_rejected(reason)`` when the proxy refuses them; :attr:`last_error` says
    why the latest connection to it failed. Start with :meth:`start`, end with :meth:`close`."""

    def __init__(self, host: str, port: int, username: str, password: str,
                 on_rejected: Callable[[str], None], uid: int | None = None) -> None:
        self._upstream = (host, port)
        self._login = (bytes([1, len(username.encode())]) + username.encode()
                       + bytes([len(password.encode())]) + password.encode())
        self._on_rejected = on_rejected
        self._uid = os.getuid() if uid is None else uid  # whose processes may connect
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0
        self.last_error = ""

    async def start(self) -> int:
        """Listen on 127.0.0.1, on a port of the kernel's choice; that port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("proxy.relay_listening", port=self.port)
        return self.port

    async def close(self) -> None:
        """Stop listening and end every relayed connection."""
        if self._server is None:
            return
        self._server.close()
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            peer = writer.get_extra_info("peername")[1]
            uid = await asyncio.to_thread(peer_uid, peer, self.port)
            if uid != self._uid:
                log.warning("proxy.relay_refused", peer_port=peer, peer_uid=uid)
                return
            if await asyncio.wait_for(self._greet(reader, writer), _HANDSHAKE_S):
                await self._relay(reader, writer)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass  # Chrome gave up on this connection, or the proxy dropped it
        finally:
            writer.close()
            self._connections.discard(task)

    @staticmethod
    async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Chrome's greeting: offer "no authentication" (its only method); False if it cannot."""
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != _VERSION:
            return False
        if _NO_AUTH not in methods:
            writer.write(bytes([_VERSION, _NO_METHOD]))
            return False
        writer.write(bytes([_VERSION, _NO_AUTH]))
        await writer.drain()
        return True

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(self._log_in(), _HANDSHAKE_S)
        except (UpstreamFailed, OSError) as exc:  # TimeoutError is an OSError
            why = str(exc) if isinstance(exc, UpstreamFailed) else f"cannot reach it: {_os_error(exc)}"
            self.last_error = why
            log.warning("proxy.relay_upstream_failed", reason=why)
            if isinstance(exc, UpstreamFailed) and exc.rejected:
                self._on_rejected(why)
            await asyncio.wait_for(_read_request(reader), _HANDSHAKE_S)
            writer.write(_GENERAL_FAILURE)  # Chrome: net::ERR_SOCKS_CONNECTION_FAILED
            await writer.drain()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()

    async def _log_in(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the proxy, authenticated (RFC 1928 method 2, RFC 1929)."""
        reader, writer = await asyncio.open_connection(*self._upstream)
        try:
            writer.write(bytes([_VERSION, 1, _USER_PASSWORD]))
            version, method = await reader.readexactly(2)
            if version != _VERSION:
                raise UpstreamFailed("it does not speak SOCKS5")
            if method != _USER_PASSWORD:
                raise UpstreamFailed("it does not accept username/password authentication", rejected=True)
            writer.write(self._login)
            _, status = await reader.readexactly(2)
            if status != 0:
                raise UpstreamFailed("the proxy rejected the credentials", rejected=True)
        except asyncio.IncompleteReadError:
            writer.close()
            raise UpstreamFailed("it closed the connection during authentication") from None
        except BaseException:
            writer.close()
            raise
        return reader, writer


def _os_error(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc) or repr(exc))


async def _read_request(reader: asyncio.StreamReader) -> None:
    """Consume a SOCKS5 request (VER CMD RSV ATYP address port), to answer it."""
    *_, address_type = await reader.readexactly(4)
    length = _ADDRESS_LENGTH.get(address_type) or (await reader.readexactly(1))[0]
    await reader.readexactly(length + 2)


async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the end on (a half-close: the other way goes on)."""
    try:
        while data := await source.read(_CHUNK):
            target.write(data)
            await target.drain()
        if target.can_write_eof():
            target.write_eof()
    except OSError:
        target.close()
