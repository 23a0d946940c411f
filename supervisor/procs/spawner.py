"""How worker processes come to life: forked by the zygote (default) or exec'd fresh.

Both give a :class:`Child`: a pid, an exit status once it is known, a way to wait for it and
a way to signal it that can never hit a reused pid (our own child, or a pidfd).

Neither passes on the daemon's environment: a worker (and the zygote) gets
``protocol.child_env`` of it (PATH, HOME, locale, TZ, TMPDIR) plus the variables given here
(the markers), never ``ZAPVISOR_*`` settings such as the webhook secret, nor systemd's
``NOTIFY_SOCKET``/``WATCHDOG_*``.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import socket
import sys
from typing import Any, Protocol

from supervisor.errors import Unavailable
from supervisor.logs import get_logger
from worker import protocol

__all__ = ["Child", "Spawner", "ExecSpawner", "ZygoteSpawner", "LOST"]

_log = get_logger()
#: Exit status of a worker whose zygote died before reporting it.
LOST = 255
_PR_SET_CHILD_SUBREAPER = 36
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl
_PRCTL.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


class Child(Protocol):
    """A worker process as the supervisor sees it."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: signal.Signals) -> None: ...


class Spawner(Protocol):
    """Starts workers; ``close`` ends whatever helper process it keeps."""

    async def warm_up(self) -> None: ...

    async def spawn(self, session_id: str, env: dict[str, str], fd: int) -> Child: ...

    def reaper_pid(self) -> int | None: ...

    async def close(self) -> None: ...


def _worker_argv(fd: int, session_id: str) -> list[str]:
    return [sys.executable, "-m", "worker", "--fd", str(fd), "--session", session_id]


class ExecSpawner:
    """A fresh interpreter per worker (slower to start, nothing shared). The daemon is then
    the subreaper of its workers' descendants, so a dead worker's leftovers come back to it."""

    async def warm_up(self) -> None:
        """Become the subreaper (the zygote is one in the other mode)."""
        if _PRCTL(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            _log.warning("spawner.no_subreaper", errno=ctypes.get_errno())

    def reaper_pid(self) -> int | None:
        """Orphans of workers come to this process."""
        return os.getpid()

    async def spawn(self, session_id: str, env: dict[str, str], fd: int) -> Child:
        """Start ``python -m worker`` with ``fd`` inherited."""
        proc = await asyncio.create_subprocess_exec(
            *_worker_argv(fd, session_id), pass_fds=(fd,), env={**protocol.child_env(os.environ), **env},
            stdin=asyncio.subprocess.DEVNULL,
        )
        return proc  # asyncio's Process already is a Child

    async def close(self) -> None:
        """Nothing to close."""


class ZygoteChild:
    """A worker forked by the zygote: signalled through a pidfd, its status reported by the
    zygote that reaps it."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self._pidfd = pidfd
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal), None while running."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        """Wait for the exit status."""
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: signal.Signals) -> None:
        """Signal it; a no-op once it has exited."""
        if self._exited.done():
            return
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
        except ProcessLookupError:
            pass

    def set_exited(self, returncode: int) -> None:
        """Record the exit status (from the zygote) and release the pidfd."""
        if not self._exited.done():
            self._exited.set_result(returncode)
            os.close(self._pidfd)

    def watch_orphaned(self) -> None:
        """The zygote is gone: learn of this worker's end from its pidfd instead."""
        if self._exited.done():
            return
        loop = asyncio.get_running_loop()

        def on_exit() -> None:
            loop.remove_reader(self._pidfd)
            self.set_exited(LOST)

        loop.add_reader(self._pidfd, on_exit)


class ZygoteSpawner:
    """Keeps one ``python -m worker.zygote`` (started on first use, restarted if it dies)."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._proc: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._starting = asyncio.Lock()
        self._ids = 0
        self._pending: dict[int, asyncio.Future[ZygoteChild]] = {}
        self._children: dict[int, ZygoteChild] = {}

    async def _ensure_started(self) -> socket.socket:
        async with self._starting:
            if self._sock is not None and self._proc is not None and self._proc.returncode is None:
                return self._sock
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", protocol.ZYGOTE_MODULE, "--fd", str(theirs.fileno()),
                    "--parent", str(os.getpid()), pass_fds=(theirs.fileno(),),
                    env={**protocol.child_env(os.environ), **self._env}, stdin=asyncio.subprocess.DEVNULL,
                )
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
            ours.setblocking(False)
            asyncio.get_running_loop().add_reader(ours, self._on_readable, ours)
            self._sock = ours
            _log.info("zygote.started", pid=self._proc.pid)
            return ours

    async def warm_up(self) -> None:
        """Start the zygote now, so the first session does not wait for its imports."""
        await self._ensure_started()

    def reaper_pid(self) -> int | None:
        """The zygote (a subreaper): orphans of workers come to it."""
        if self._proc is None or self._proc.returncode is not None:
            return None
        return self._proc.pid

    async def spawn(self, session_id: str, env: dict[str, str], fd: int) -> Child:
        """Ask the zygote to fork a worker that gets ``fd`` and ``env``."""
        sock = await self._ensure_started()
        self._ids += 1
        request_id = self._ids
        future: asyncio.Future[ZygoteChild] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message = json.dumps({"op": protocol.ZygoteOp.SPAWN, "id": request_id, "session": session_id, "env": env})
        try:
            socket.send_fds(sock, [message.encode()], [fd])
            return await asyncio.wait_for(asyncio.shield(future), 30)
        except (OSError, TimeoutError) as exc:
            raise Unavailable(f"the zygote did not fork a worker for {session_id!r}: {exc}") from None
        finally:
            self._pending.pop(request_id, None)

    def _on_readable(self, sock: socket.socket) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, protocol.ZYGOTE_MAX_MESSAGE_BYTES, 4)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:
                self._lost(sock)
                return
            self._dispatch(json.loads(data), fds)

    def _dispatch(self, message: dict[str, Any], fds: list[int]) -> None:
        op = message.get("op")
        if op == protocol.ZygoteOp.SPAWNED and fds:
            child = ZygoteChild(int(message["pid"]), fds[0])
            self._children[child.pid] = child
            future = self._pending.get(int(message["id"]))
            if future is not None and not future.done():
                future.set_result(child)
            return
        for fd in fds:
            os.close(fd)
        if op == protocol.ZygoteOp.EXITED:
            exited = self._children.pop(int(message["pid"]), None)
            if exited is not None:
                exited.set_exited(int(message["returncode"]))
        elif op == protocol.ZygoteOp.FAILED:
            future = self._pending.get(int(message["id"]))
            if future is not None and not future.done():
                future.set_exception(OSError(message.get("error", "spawn failed")))

    def _lost(self, sock: socket.socket) -> None:
        """The zygote died: fail what waits on it; its workers die by their death signal."""
        asyncio.get_running_loop().remove_reader(sock)
        sock.close()
        if self._sock is sock:
            self._sock = None
        _log.warning("zygote.lost", orphaned_workers=len(self._children))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(OSError("the zygote exited"))
        for child in self._children.values():
            child.watch_orphaned()
        self._children.clear()

    async def close(self) -> None:
        """End the zygote (it exits on EOF of its channel)."""
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock)
            self._sock.close()
            self._sock = None
        if self._proc is not None and self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
