"""The worker process: boot Chrome for one session, serve the supervisor, stop in order.

Lifecycle: read the ``boot`` request -> prepare the profile -> launch Chrome -> attach over
CDP -> reply -> ``state STARTING`` -> run the driver. Meanwhile (one TaskGroup): requests,
heartbeats, a Chrome watcher, stop signals and a parent-pid watch. The first stop cause wins
(:meth:`Worker.request_stop`); then the graceful shutdown runs and the process exits with
its code (worker.protocol EXIT_*).
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
from collections.abc import Coroutine
from typing import Any

from worker import logs, protocol
from worker.browser import cdp
from worker.browser.chrome import Chrome
from worker.drivers.base import Driver, DriverFatal
from worker.drivers.factory import make_driver
from worker.errors import BadBootSpec, BootFailure
from worker.heartbeat import run_heartbeat
from worker.link import Link
from worker.logs import get_logger
from worker.ops import Operations
from worker.prctl import set_death_signal
from worker.session import Session, boot_session
from worker.spec import parse_boot

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PARENT_POLL_S = 0.5
_DEFAULT_CLOSE_TIMEOUT_S = 5.0
_BROWSER_CLOSE_ACK_S = 2.0
_TERM_GRACE_S = 1.0
_MAX_PAGE_CRASHES = 3  # reloads allowed within _CRASH_WINDOW_S before the worker gives up
_CRASH_WINDOW_S = 60.0

log = get_logger()


class Worker:
    """One session's worker, speaking the protocol on the inherited socket ``fd``."""

    def __init__(self, fd: int, session_id: str) -> None:
        self._fd = fd
        self._session_id = session_id
        self._parent_pid = os.getppid()
        self._spec: protocol.BootSpec | None = None
        self._session: Session | None = None
        self._driver: Driver | None = None  # set once Chrome is attached; serves driver ops
        self._chrome: Chrome | None = None  # set as soon as spawned, so shutdown can close it
        self._tasks: set[asyncio.Task[None]] = set()
        self._unanswered: dict[int, str] = {}  # request id -> op
        self._hurry = asyncio.Event()  # a second stop signal: skip the graceful waits
        self._cdp_lost = asyncio.Event()
        self._page_crashed = asyncio.Event()

    def request_stop(self, code: int, kind: protocol.ExitKind, reason: str) -> None:
        """Ask the worker to shut down and exit with ``code`` (``kind`` and ``reason`` say why,
        in EV_EXITING); the first request wins."""
        if not self._stopped.done():
            log.info("worker.stop_requested", code=code, kind=kind, reason=reason)
            self._stopped.set_result((code, kind, reason))

    async def run(self) -> int:
        """Serve until a stop cause, shut down in order, return the exit code."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_loop_exception)
        self._stopped: asyncio.Future[tuple[int, protocol.ExitKind, str]] = loop.create_future()
        signals: asyncio.Queue[int] = asyncio.Queue()
        for signum in _STOP_SIGNALS:  # handlers only enqueue; _watch_signals decides
            loop.add_signal_handler(signum, signals.put_nowait, signum)
        self._link = await Link.open(self._fd)
        self._ops = Operations(lambda: self._driver)
        async with asyncio.TaskGroup() as group:
            self._group = group
            watchers = [group.create_task(self._watch_signals(signals)), group.create_task(self._watch_parent())]
            self._spawn("requests", self._serve())
            code, kind, reason = await self._stopped
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=0.5)
            await self._shutdown(code, kind, reason)
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
            await self._link.send(protocol.make_error(reply["id"], protocol.WorkerErrorType.OPERATION_FAILED, str(exc)))

    async def _answer(self, request: dict[str, Any]) -> None:
        await self._reply(await self._ops.answer(request))
        if request["op"] == protocol.OP_STOP:
            self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "stop requested")

    async def _serve(self) -> None:
        try:
            first = await self._link.read()
            if first is None:
                self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "supervisor closed the socket before boot")
                return
            request_id, spec = parse_boot(first)
            if spec["session_id"] != self._session_id:
                error = BadBootSpec(f"boot is for session {spec['session_id']!r}, this worker is {self._session_id!r}")
                error.request_id = request_id
                raise error
        except (protocol.ProtocolError, BadBootSpec) as exc:
            await self._fail_boot(exc if isinstance(exc, BadBootSpec) else BadBootSpec(str(exc)))
            return
        self._unanswered[request_id] = protocol.OP_BOOT
        self._spawn("boot", self._boot_and_drive(request_id, spec))
        while True:
            try:
                message = await self._link.read()
            except protocol.ProtocolError as exc:
                self.request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CRASHED, f"protocol error from supervisor: {exc}")
                return
            if message is None:
                self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "supervisor closed the control socket")
                return
            if protocol.kind_of(message) != "request":
                log.warning("worker.unexpected_message", kind=protocol.kind_of(message))
                continue
            self._unanswered[message["id"]] = message["op"]
            self._spawn(f"op:{message['op']}", self._answer(message))

    async def _fail_boot(self, exc: BootFailure, request_id: int | None = None) -> None:
        log.error("worker.boot_failed", error_type=exc.error_type, message=str(exc))
        if request_id is None and isinstance(exc, BadBootSpec):
            request_id = exc.request_id
        if request_id is not None:
            self._unanswered[request_id] = protocol.OP_BOOT
            await self._reply(protocol.make_error(request_id, exc.error_type, str(exc)))
        self.request_stop(exc.exit_code, protocol.ExitKind.BOOT_FAILURE, f"{exc.error_type}: {exc}")

    async def _boot_and_drive(self, request_id: int, spec: protocol.BootSpec) -> None:
        self._spec = spec
        try:
            session = await boot_session(spec, self._on_chrome_spawned, self._cdp_lost.set,
                                         self._page_crashed.set)
        except BootFailure as exc:
            await self._fail_boot(exc, request_id)
            return
        self._session = session
        await self._reply(protocol.make_reply(request_id, session.boot_result()))
        await self._emit(protocol.EV_STATE, {"state": protocol.WorkerState.STARTING})
        self._spawn("heartbeat", run_heartbeat(session, self._emit, self.request_stop))
        self._spawn("chrome-watch", self._watch_chrome(session.chrome))
        try:
            await self._drive(session, spec)
        except DriverFatal as exc:
            await self._emit(protocol.EV_STATE, {"state": protocol.WorkerState.FAILED, "reason": exc.reason})
            self.request_stop(protocol.EXIT_BOOT_FAILURE, protocol.ExitKind.DRIVER_FAILED, f"driver: {exc.reason}")
            return
        except Exception as exc:
            log.exception("driver.crashed")
            self.request_stop(protocol.EXIT_CRASH, protocol.ExitKind.DRIVER_FAILED, f"driver crashed: {exc!r}")
            return
        self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "driver finished")  # the session is over

    async def _drive(self, session: Session, spec: protocol.BootSpec) -> None:
        """Run the driver; when the page's renderer dies, run it again: its first step
        navigates, which gives the tab a new renderer. Too many crashes end the worker."""
        crashes: collections.deque[float] = collections.deque()
        while True:
            self._page_crashed.clear()
            self._driver = make_driver(spec)
            driving = asyncio.ensure_future(self._driver.run(session.page, self._emit))
            crashed = asyncio.ensure_future(self._page_crashed.wait())
            await asyncio.wait({driving, crashed}, return_when=asyncio.FIRST_COMPLETED)
            crashed.cancel()
            if driving.done():
                await driving  # its result, or its exception for the caller
                return
            driving.cancel()
            await asyncio.gather(driving, crashed, return_exceptions=True)
            now = time.monotonic()
            crashes.append(now)
            while crashes[0] < now - _CRASH_WINDOW_S:
                crashes.popleft()
            if len(crashes) > _MAX_PAGE_CRASHES:
                raise RuntimeError(f"the page crashed {len(crashes)} times in {_CRASH_WINDOW_S:g}s")
            log.warning("page.reloading", crashes=len(crashes))
            await self._emit(protocol.EV_STATE, {"state": protocol.WorkerState.STARTING,
                                                 "reason": "page crashed; reloading"})

    def _on_chrome_spawned(self, chrome: Chrome) -> None:
        self._chrome = chrome

    async def _watch_chrome(self, chrome: Chrome) -> None:
        returncode = await chrome.wait_exited(cut_short=self._cdp_lost)
        if returncode is None:  # CDP dropped first: Chrome is probably exiting, give it a moment
            returncode = await chrome.wait_exited(1.0)
        if returncode is None:
            self.request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CHROME_EXITED, "CDP connection to Chrome lost")
            return
        log.warning("chrome.exited_unexpectedly", returncode=returncode)
        await self._emit(protocol.EV_CHROME_EXITED, {"returncode": returncode})
        self.request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CHROME_EXITED, f"Chrome exited with code {returncode}")

    async def _watch_signals(self, signals: asyncio.Queue[int]) -> None:
        while True:
            signum = await signals.get()
            name = signal.Signals(signum).name
            if self._stopped.done():
                log.info("worker.hurry", signal=name)
                self._hurry.set()
            else:
                self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, f"signal {name}")

    async def _watch_parent(self) -> None:
        # PR_SET_PDEATHSIG and socket EOF normally come first; this catches the rest.
        while os.getppid() == self._parent_pid:
            await asyncio.sleep(_PARENT_POLL_S)
        self.request_stop(protocol.EXIT_OK, protocol.ExitKind.STOP, "supervisor died")

    async def _shutdown(self, code: int, kind: protocol.ExitKind, reason: str) -> None:
        close_timeout = self._spec["close_timeout_s"] if self._spec else _DEFAULT_CLOSE_TIMEOUT_S
        # Last resort if a step below hangs: SIGALRM's default action ends the process.
        signal.alarm(int(close_timeout) + 10)
        log.info("worker.stopping", code=code, kind=kind, reason=reason)
        deadline = time.monotonic() + close_timeout
        session = self._session
        asked_to_close = False
        if session is not None and session.chrome.returncode is None and not self._hurry.is_set():
            await cdp.request_close(session.browser, min(_BROWSER_CLOSE_ACK_S, close_timeout))
            asked_to_close = True
        if self._chrome is not None:
            # Without Browser.close (stopped mid-boot) Chrome will not exit by itself: SIGTERM now.
            graceful = max(0.0, deadline - time.monotonic()) if asked_to_close else 0.0
            await self._chrome.close(graceful, _TERM_GRACE_S, hurry=self._hurry)
        if session is not None:
            await cdp.disconnect(session.browser, 1.0)
        for request_id, op in list(self._unanswered.items()):
            await self._reply(protocol.make_error(request_id, protocol.WorkerErrorType.WORKER_STOPPING, f"{op}: worker stopping ({reason})"))
        await self._link.send(protocol.make_event(protocol.EV_EXITING, {"code": code, "kind": kind, "reason": reason}))
        await self._link.close()
        log.info("worker.exited", code=code, kind=kind, reason=reason)


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # pyppeteer runs tasks of its own; their failures are logged here, not dumped raw.
    log.warning("asyncio.unhandled", message=context.get("message"), error=repr(context.get("exception")))


def run(fd: int, session_id: str) -> int:
    """Run a worker in this process; returns the exit code."""
    set_death_signal(signal.SIGTERM)  # die (gracefully, via SIGTERM) with the supervisor
    logs.configure(session_id)
    log.info("worker.started", pid=os.getpid(), ppid=os.getppid())
    return asyncio.run(Worker(fd, session_id).run())
