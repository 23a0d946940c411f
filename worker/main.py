"""The worker process: boot Chrome for one session, serve the supervisor, stop in order.

Lifecycle: read the ``boot`` request -> prepare the profile -> launch Chrome -> attach over
CDP -> reply -> ``state STARTING`` -> run the driver (worker.driving). Meanwhile (one
TaskGroup): requests, heartbeats and the other stop causes (worker.watchers). The first stop
cause wins (:meth:`Worker.request_stop`); then the graceful shutdown runs and the process exits
with its code (worker.protocol EXIT_*), after an EV_EXITING that says why (ExitKind + text).
A lapsed lease (worker.lease) is the exception: it kills Chrome at once, and its EXIT_FENCED
wins even over a cause whose shutdown is under way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Coroutine
from typing import Any, NamedTuple

from worker import logs, protocol
from worker.browser.chrome import Chrome
from worker.drivers.base import Driver, DriverFatal
from worker.driving import drive
from worker.errors import BadBootSpec, BootFailure
from worker.heartbeat import Probes, run_heartbeat
from worker.lease import Lease
from worker.link import Link
from worker.logs import get_logger
from worker.ops import Operations
from worker.prctl import set_death_signal
from worker.session import Session, boot_session, close_chrome
from worker.spec import Boot, parse_boot
from worker.watchers import watch_chrome, watch_lease, watch_parent, watch_signals

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_DEFAULT_CLOSE_TIMEOUT_S = 5.0  # before a boot spec said otherwise
_ALARM_MARGIN_S = 10  # SIGALRM ends a shutdown hung this long past its close timeout
_TASKS_CANCEL_S = 0.5
_FENCED_LAST_WORDS_S = 2.0  # a frozen supervisor may never read them; EXIT_FENCED says it all

log = get_logger()


class Stop(NamedTuple):
    """Why and how the worker ends (the first stop cause)."""

    code: int
    kind: protocol.ExitKind
    reason: str


class Worker:
    """One session's worker, speaking the protocol on the inherited socket ``fd``."""

    def __init__(self, fd: int, session_id: str) -> None:
        self._fd = fd
        self._session_id = session_id
        self._parent_pid = os.getppid()
        self._boot: Boot | None = None
        self._session: Session | None = None
        self._driver: Driver | None = None  # set once Chrome is attached; serves driver ops
        self._chrome: Chrome | None = None  # set as soon as spawned, so shutdown can close it
        self._tasks: set[asyncio.Task[None]] = set()
        self._unanswered: dict[int, str] = {}  # request id -> op
        self._hurry = asyncio.Event()  # a second stop signal: skip the graceful waits
        self._cdp_lost = asyncio.Event()
        self._page_crashed = asyncio.Event()
        self._lease = Lease()  # none until the supervisor gives one (a cluster node)
        self._fenced: Stop | None = None  # set once the lease lapsed

    def request_stop(self, code: int, kind: protocol.ExitKind, reason: str) -> None:
        """Ask the worker to shut down and exit with ``code`` (``kind`` and ``reason`` say why,
        in EV_EXITING); the first request wins."""
        if not self._stopped.done():
            log.info("worker.stop_requested", code=code, kind=kind, reason=reason)
            self._stopped.set_result(Stop(code, kind, reason))

    async def run(self) -> int:
        """Serve until a stop cause, shut down in order, return the exit code."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_loop_exception)
        self._stopped: asyncio.Future[Stop] = loop.create_future()
        signals: asyncio.Queue[int] = asyncio.Queue()
        for signum in _STOP_SIGNALS:  # handlers only enqueue; watch_signals decides
            loop.add_signal_handler(signum, signals.put_nowait, signum)
        self._link = await Link.open(self._fd)
        self._ops = Operations(lambda: self._driver, self._lease)
        async with asyncio.TaskGroup() as group:
            self._group = group
            watchers = [
                group.create_task(watch_signals(signals, self._stopped.done, self._hurry, self.request_stop)),
                group.create_task(watch_parent(self._parent_pid, self.request_stop)),
                group.create_task(watch_lease(self._lease, self._fence)),
            ]
            # Not one of _tasks: leases are still read while Chrome closes in order (_serve).
            self._requests = group.create_task(self._guard("requests", self._serve()), name="requests")
            stop = await self._stopped
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=_TASKS_CANCEL_S)
            code = await self._shutdown(stop)
            for task in watchers:
                task.cancel()
        return code

    def _spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        task = self._group.create_task(self._guard(name, work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        # A failing task must stop the worker (exit 1), not tear down the TaskGroup.
        try:
            await work
        except Exception as exc:
            log.exception("worker.task_crashed", task=name)
            self.request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CRASHED, f"{name} crashed: {exc!r}")

    async def _emit(self, event: str, data: dict[str, Any]) -> None:
        await self._link.send(protocol.make_event(event, data))

    async def _reply(self, reply: dict[str, Any]) -> None:
        # Every request gets exactly one reply: _shutdown answers what is still unanswered.
        if self._unanswered.pop(reply["id"], None) is None:
            return
        try:
            await self._link.send(reply)
        except protocol.ProtocolError as exc:  # e.g. a driver's result over the frame cap
            await self._link.send(protocol.make_error(reply["id"], protocol.WorkerErrorType.OPERATION_FAILED,
                                                      str(exc)))

    async def _answer(self, request: dict[str, Any]) -> None:
        await self._reply(await self._ops.answer(request))
        if request["op"] == protocol.OP_STOP:
            self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "stop requested")

    async def _serve(self) -> None:
        boot = await self._read_boot()
        if boot is None:
            return
        self._unanswered[boot.request_id] = protocol.OP_BOOT
        if self._stopped.done():  # e.g. a stop signal first: no Chrome now (_last_words answers)
            return
        if "lease_until_monotonic" in boot.spec:  # before Chrome exists: no unfenced moment
            self._lease.extend(boot.spec["lease_until_monotonic"])
        self._spawn("boot", self._boot_and_drive(boot))
        while True:
            try:
                message = await self._link.read()
            except protocol.ProtocolError as exc:
                self.request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CRASHED,
                                  f"protocol error from supervisor: {exc}")
                return
            if message is None:
                self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "supervisor closed the control socket")
                return
            if protocol.kind_of(message) != "request":
                log.warning("worker.unexpected_message", kind=protocol.kind_of(message))
                continue
            self._unanswered[message["id"]] = message["op"]
            if not self._stopped.done():
                self._spawn(f"op:{message['op']}", self._answer(message))
            elif message["op"] == protocol.OP_LEASE:  # an orderly close under a lease that still runs
                await self._reply(await self._ops.answer(message))  # (the rest: _last_words)

    async def _read_boot(self) -> Boot | None:
        """The first frame, a valid boot request for this session; None (and the worker
        stopping) otherwise."""
        try:
            first = await self._link.read()
            if first is None:
                self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "supervisor closed the socket before boot")
                return None
            boot = parse_boot(first)
            if boot.spec["session_id"] != self._session_id:
                error = BadBootSpec(f"boot is for session {boot.spec['session_id']!r}, "
                                    f"this worker is {self._session_id!r}")
                error.request_id = boot.request_id
                raise error
        except (protocol.ProtocolError, BadBootSpec) as exc:
            await self._fail_boot(exc if isinstance(exc, BadBootSpec) else BadBootSpec(str(exc)))
            return None
        return boot

    async def _fail_boot(self, exc: BootFailure, request_id: int | None = None) -> None:
        log.error("worker.boot_failed", error_type=exc.error_type, message=str(exc))
        if request_id is None and isinstance(exc, BadBootSpec):
            request_id = exc.request_id
        if request_id is not None:
            self._unanswered[request_id] = protocol.OP_BOOT
            await self._reply(protocol.make_error(request_id, exc.error_type, str(exc)))
        self.request_stop(exc.exit_code, protocol.ExitKind.BOOT_FAILURE, f"{exc.error_type}: {exc}")

    async def _boot_and_drive(self, boot: Boot) -> None:
        self._boot = boot
        # Beats from now on: launching Chrome on a busy host takes a while, and this worker is
        # alive all along. The probes join once Chrome is attached.
        probes = Probes(boot.spec["probe_interval_s"])
        self._spawn("heartbeat", run_heartbeat(boot.spec["heartbeat_interval_s"], self._emit, probes))
        try:
            session = await boot_session(boot.spec, self._on_chrome_spawned, self._cdp_lost.set,
                                         self._page_crashed.set)
        except BootFailure as exc:
            await self._fail_boot(exc, boot.request_id)
            return
        self._session = session
        await self._reply(protocol.make_reply(boot.request_id, session.boot_result()))
        await self._emit(protocol.EV_STATE, {"state": protocol.WorkerState.STARTING})
        self._spawn("probes", probes.run(session.page, session.browser))
        self._spawn("chrome-watch", watch_chrome(session.chrome, self._cdp_lost, self._emit, self.request_stop))
        try:
            await drive(boot, session, self._emit, self._page_crashed, self._on_driver)
        except DriverFatal as exc:
            await self._emit(protocol.EV_STATE, {"state": protocol.WorkerState.FAILED, "reason": exc.reason})
            self.request_stop(protocol.EXIT_BOOT_FAILURE, protocol.ExitKind.DRIVER_FAILED, f"driver: {exc.reason}")
            return
        except Exception as exc:
            log.exception("driver.crashed")
            self.request_stop(protocol.EXIT_CRASH, protocol.ExitKind.DRIVER_FAILED, f"driver crashed: {exc!r}")
            return
        # The driver returned: the session is over.
        self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "driver finished")

    def _on_chrome_spawned(self, chrome: Chrome) -> None:
        self._chrome = chrome
        if self._fenced is not None:  # spawned in the moment between the fence and the stop
            chrome.kill()

    def _fence(self, until: float) -> None:
        """The lease lapsed: kill Chrome's whole tree now (no orderly close: another node may
        be starting this session), then stop with EXIT_FENCED, which also replaces the cause
        of a shutdown under way (the graceful waits are cut short)."""
        late_s = round(time.monotonic() - until, 3)
        self._hurry.set()
        if self._chrome is not None:
            self._chrome.kill()
        self._fenced = Stop(protocol.EXIT_FENCED, protocol.ExitKind.FENCED,
                            f"fenced: the supervisor's lease lapsed {late_s:g}s ago")
        log.warning("worker.fenced", until_monotonic=until, late_s=late_s,
                    chrome_pid=self._chrome.pid if self._chrome else None)
        self.request_stop(*self._fenced)

    def _on_driver(self, driver: Driver) -> None:
        self._driver = driver

    async def _shutdown(self, stop: Stop) -> int:
        """Close Chrome, answer what is unanswered, say why we exit; returns the exit code."""
        close_timeout = self._boot.spec["close_timeout_s"] if self._boot else _DEFAULT_CLOSE_TIMEOUT_S
        # Last resort if a step below hangs: SIGALRM's default action ends the process.
        signal.alarm(int(close_timeout) + _ALARM_MARGIN_S)
        code, kind, reason = stop
        log.info("worker.stopping", code=code, kind=kind, reason=reason)
        await close_chrome(self._session, self._chrome, close_timeout, self._hurry)
        self._requests.cancel()  # EV_EXITING must be the last frame
        await asyncio.wait([self._requests])
        code, kind, reason = self._fenced or stop
        try:
            await asyncio.wait_for(self._last_words(code, kind, reason),
                                   _FENCED_LAST_WORDS_S if self._fenced else None)
        except TimeoutError:
            log.warning("worker.last_words_unsent", kind=kind)
        log.info("worker.exited", code=code, kind=kind, reason=reason)
        return code

    async def _last_words(self, code: int, kind: protocol.ExitKind, reason: str) -> None:
        for request_id, op in list(self._unanswered.items()):
            await self._reply(protocol.make_error(request_id, protocol.WorkerErrorType.WORKER_STOPPING,
                                                  f"{op}: worker stopping ({reason})"))
        await self._link.send(protocol.make_event(protocol.EV_EXITING, {"code": code, "kind": kind, "reason": reason}))
        await self._link.close()


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # pyppeteer runs tasks of its own; their failures are logged here, not dumped raw.
    log.warning("asyncio.unhandled", message=context.get("message"), error=repr(context.get("exception")),
                task=repr(context.get("task") or context.get("future"))[:300])


def run(fd: int, session_id: str) -> int:
    """Run a worker in this process; returns the exit code."""
    set_death_signal(signal.SIGTERM)  # die (gracefully, via SIGTERM) with the supervisor
    logs.configure(session_id)
    log.info("worker.started", pid=os.getpid(), ppid=os.getppid())
    return asyncio.run(Worker(fd, session_id).run())
