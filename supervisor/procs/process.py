"""One worker process, seen from the supervisor: spawn, talk, watch, stop.

The worker is forked by the zygote or exec'd fresh (``supervisor.procs.spawner``), never forked from
this event loop. Its end of a ``socketpair`` is handed over as an fd: no socket path, no stale
file, no connect race.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from supervisor.errors import Unavailable, from_wire
from supervisor.logs import get_logger
from supervisor.procs.spawner import Child, Spawner
from worker import protocol

__all__ = ["WorkerProcess", "EventHandler", "SupervisorCause"]

EventHandler = Callable[[str, dict[str, Any]], None]


class SupervisorCause(enum.StrEnum):
    """Why the supervisor itself ended (or never had) a worker; the worker's own reasons are
    ``protocol.ExitKind``."""

    HEARTBEAT_TIMEOUT = "heartbeat_timeout"  # its event loop stopped answering
    START_TIMEOUT = "start_timeout"  # not ready within sessions.start_timeout_s
    SPAWN_FAILED = "spawn_failed"  # no process could be started (EMFILE, EAGAIN, zygote gone)
    BOOT_REFUSED = "boot_refused"  # it answered the boot request with an error


class WorkerProcess:
    """A running worker. ``serve()`` must be running (in its owner's TaskGroup) for replies,
    events and the heartbeat watchdog to work; it returns once the worker has exited."""

    def __init__(
        self,
        session_id: str,
        spawner: Spawner,
        env: dict[str, str],
        kill_grace_s: float,
        on_event: EventHandler,
    ) -> None:
        self.session_id = session_id
        self._spawner = spawner
        self._env = env
        self._kill_grace_s = kill_grace_s
        self._on_event = on_event
        self._log = get_logger(session_id=session_id)
        self._proc: Child | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._leases: set[int] = set()  # OP_LEASE requests sent, whose replies nobody awaits
        # The boot request must be the first frame a worker reads (it refuses anything else
        # first): no lease is sent before it, and the boot spec carries the lease itself.
        self._boot_sent = False
        self._exited = asyncio.Event()
        self._verdict = asyncio.Event()  # declared hung (supervisor.sessions.liveness)
        self._verdict_stop_s: float | None = None
        self.started_at = 0.0
        self.last_heartbeat_at = 0.0
        self.heartbeat: dict[str, Any] = {}
        self.chrome_pid: int | None = None
        # Why it ended, as a fixed code and as text: set by us (watchdog, start timeout) or by
        # the worker's last words (EV_EXITING); metrics and restart decisions read only the code.
        self.exit_kind: str | None = None  # a protocol.ExitKind or a SupervisorCause
        self.exit_reason: str | None = None

    def set_exit(self, kind: str, reason: str) -> None:
        """Record why this worker is being ended (by the supervisor)."""
        self.exit_kind, self.exit_reason = kind, reason

    @property
    def pid(self) -> int | None:
        """The worker's pid, while it may be alive."""
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """The exit status once exited (negative: killed by that signal)."""
        return self._proc.returncode if self._proc else None

    def uptime_s(self) -> float:
        """Seconds since spawn (monotonic)."""
        return time.monotonic() - self.started_at if self.started_at else 0.0

    async def spawn(self) -> None:
        """Start the worker with its end of a fresh socketpair."""
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = await self._spawner.spawn(self.session_id, self._env, child_sock.fileno())
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self.started_at = self.last_heartbeat_at = time.monotonic()
        self._reader, self._writer = await asyncio.open_connection(sock=parent_sock)
        self._log.info("worker.spawned", pid=self._proc.pid)

    async def serve(self) -> None:
        """Read frames and watch the heartbeat until the worker exits."""
        assert self._proc is not None
        reading = asyncio.ensure_future(self._read_loop())
        watching = asyncio.ensure_future(self._end_when_hung())
        try:
            await self._proc.wait()
            # The socket may still hold the worker's last frames (its "exiting" event).
            await asyncio.wait([reading], timeout=1.0)
        finally:
            for task in (reading, watching):
                task.cancel()
            try:
                await asyncio.gather(reading, watching, return_exceptions=True)
            finally:
                # Also when the owner cancels us right here (a stop that saw the exit first):
                # otherwise the socket stays open until the garbage collector finds it.
                self._close_channel()
                self._exited.set()
        if self.exit_reason is None:
            self.exit_reason = describe_exit(self._proc.returncode)
        self._log.info("worker.exited", pid=self._proc.pid, returncode=self._proc.returncode,
                       reason=self.exit_reason)

    def _close_channel(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(Unavailable(f"worker of session {self.session_id!r} exited"))
        self._pending.clear()
        if self._writer is not None:
            self._writer.close()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        while True:
            try:
                message = await protocol.read_message(self._reader)
            except (protocol.ProtocolError, ConnectionError) as exc:
                self._log.warning("worker.protocol_error", error=str(exc))
                self.kill()
                return
            if message is None:
                return
            kind = protocol.kind_of(message)
            if kind == "reply":
                future = self._pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
                elif message["id"] in self._leases:
                    self._leases.discard(message["id"])
                    if not message["ok"]:
                        self._log.warning("worker.lease_refused", error=message["error"].get("message"))
            elif kind == "event":
                self._handle_event(message["event"], message.get("data", {}))

    def _handle_event(self, event: str, data: dict[str, Any]) -> None:
        if event == protocol.EV_HEARTBEAT:
            self.last_heartbeat_at = time.monotonic()
            self.heartbeat = data
        elif event == protocol.EV_EXITING and not self._verdict.is_set():
            # (A hung worker we stop says "stop requested": the verdict is the reason kept.)
            self.exit_reason = str(data.get("reason") or self.exit_reason)
            kind = data.get("kind")
            if kind in protocol.ExitKind.__members__.values():
                self.exit_kind = str(kind)
        self._on_event(event, data)

    @property
    def hung(self) -> bool:
        """True once declared hung: it is being ended."""
        return self._verdict.is_set()

    def declare_hung(self, kind: str, reason: str, stop_timeout_s: float | None) -> None:
        """End this worker, which is hung (the verdict is the liveness monitor's): in the close
        order when its own loop still answers (``stop_timeout_s``), else SIGTERM then SIGKILL."""
        if self._verdict.is_set():
            return
        self.set_exit(kind, reason)
        self._verdict_stop_s = stop_timeout_s
        self._verdict.set()

    async def _end_when_hung(self) -> None:
        await self._verdict.wait()
        self._log.warning("worker.hung", kind=self.exit_kind, reason=self.exit_reason)
        if self._verdict_stop_s is None:
            await self.terminate()
        else:
            await self.stop(self._verdict_stop_s)

    async def request(self, op: str, args: dict[str, Any] | None, timeout_s: float) -> dict[str, Any]:
        """Send a request and wait for its reply; raise the rebuilt error on failure."""
        if self._writer is None or self._exited.is_set():
            raise Unavailable(f"worker of session {self.session_id!r} is not running")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(protocol.encode(protocol.make_request(request_id, op, args)))
            self._boot_sent = self._boot_sent or op == protocol.OP_BOOT
            await self._writer.drain()
            reply = await asyncio.wait_for(future, timeout_s)
        except (ConnectionError, OSError) as exc:
            raise Unavailable(f"worker of session {self.session_id!r} is unreachable: {exc}") from None
        except TimeoutError:
            raise Unavailable(f"worker of session {self.session_id!r} did not answer {op!r} "
                              f"within {timeout_s:g}s") from None
        finally:
            self._pending.pop(request_id, None)
        if not reply["ok"]:
            raise from_wire(reply["error"])
        result: dict[str, Any] = reply.get("result", {})
        return result

    def lease(self, until_monotonic: float) -> bool:
        """Tell the worker it may run Chrome until ``until_monotonic`` (``time.monotonic()``:
        system-wide, see protocol.LeaseArgs); past it, with no later lease, the worker kills
        Chrome and exits EXIT_FENCED. One small frame, not awaited, so that a lease loop never
        waits on a slow worker (a refusal, a lease that had lapsed, is logged). False when
        there is no live worker to tell, or none booted yet (its boot request, sent later,
        carries the lease current then)."""
        writer = self._writer
        if writer is None or writer.is_closing() or self._exited.is_set() or not self._boot_sent:
            return False
        request_id = next(self._ids)
        args: protocol.LeaseArgs = {"until_monotonic": until_monotonic}
        try:
            writer.write(protocol.encode(protocol.make_request(request_id, protocol.OP_LEASE, dict(args))))
        except (ConnectionError, OSError):
            return False
        self._leases.add(request_id)
        return True

    async def wait_exited(self) -> None:
        """Wait until ``serve()`` has seen the worker exit."""
        await self._exited.wait()

    async def stop(self, stop_timeout_s: float) -> None:
        """The close order: ask the worker to stop (it closes Chrome: CDP, TERM, KILL), then
        SIGTERM it, then SIGKILL it. Returns once it has exited."""
        if self._proc is None or self._proc.returncode is not None:
            return
        try:
            await self.request(protocol.OP_STOP, None, timeout_s=2.0)
            await asyncio.wait_for(self._proc.wait(), stop_timeout_s)
            return
        except (Unavailable, TimeoutError) as exc:
            self._log.warning("worker.stop_unanswered", error=str(exc))
        await self.terminate()

    async def terminate(self) -> None:
        """SIGTERM, a grace period, then SIGKILL."""
        if self._proc is None or self._proc.returncode is not None:
            return
        self._send(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._proc.wait(), self._kill_grace_s)
        except TimeoutError:
            self._log.warning("worker.kill", reason="ignored SIGTERM")
            self.kill()
            await self._proc.wait()

    def kill(self) -> None:
        """SIGKILL the worker now (its Chrome follows through its death signal)."""
        self._send(signal.SIGKILL)

    def _send(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.returncode is None:
            try:
                self._proc.send_signal(sig)
            except ProcessLookupError:
                pass


def describe_exit(returncode: int | None) -> str:
    """A human reason for an exit status."""
    if returncode is None:
        return "still running"
    if returncode == protocol.EXIT_FENCED:
        return f"fenced: exited with code {returncode} (its lease lapsed)"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"
