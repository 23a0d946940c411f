"""One session: its state machine, and the loop that keeps its worker running.

Every state change goes through :meth:`Session.transition`, which checks it against
``states.ALLOWED``, records it, logs one line and publishes a ``session.status`` event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from typing import Any

from supervisor.aio import wait_first
from supervisor.errors import Conflict, ZapvisorError
from supervisor.logs import get_logger
from supervisor.procs.process import SupervisorCause, WorkerProcess
from supervisor.sessions.backoff import RestartPolicy
from supervisor.sessions.bootspec import boot_spec, worker_env
from supervisor.sessions.context import SessionContext
from supervisor.sessions.exits import Action, Exit, decide, restart_kind
from supervisor.sessions.page import PageFacts
from supervisor.sessions.resources import ResourceSampler
from supervisor.sessions.warmup import login_changes
from supervisor.sessions.workerrun import attach, wait_exit_or_terminate
from supervisor.states import ALLOWED, RUNNING_STATES, State
from supervisor.store import SessionRecord
from worker import protocol

__all__ = ["Session"]

# Worker events the bus does not carry: session.status and session.restart tell the same.
_WORKER_INTERNAL = frozenset({protocol.EV_STATE, protocol.EV_CHROME_EXITED, protocol.EV_EXITING})
_WORKER_STATES = {
    protocol.WorkerState.STARTING: State.STARTING,
    protocol.WorkerState.SCAN_QR_CODE: State.SCAN_QR_CODE,
    protocol.WorkerState.WORKING: State.WORKING,
}


class Session:
    """A session's live state. Created from its database record."""

    def __init__(self, record: SessionRecord, ctx: SessionContext) -> None:
        self.id = record.id
        self.record = record
        self.ctx = ctx
        self.state = State.STOPPED
        self.since = time.time()
        self.detail = ""
        # Why the registry stops it after a logout: the worker's states are then old news.
        self.ending = ""
        self.worker: WorkerProcess | None = None
        self.policy = RestartPolicy(ctx.config.limits)
        self.lock = asyncio.Lock()  # serialises start/stop/restart/delete from the API
        self.runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._recycle = asyncio.Event()
        self.recycle_reason = ""
        self.ready_at = 0.0  # monotonic time the current worker became ready, 0 if not
        self.qr: str | None = None  # the latest QR string the page showed (see offered_qr)
        self.page = PageFacts()  # what the page told about itself (version, sync, pairing)
        # Chrome with a window (False) or without (True) for this daemon run; None: the config's.
        self.headless: bool | None = None
        self.resources = ResourceSampler(ctx.config.limits.sample_interval_s,
                                         ctx.config.events.resource_interval_s)
        self.procs = ctx.tracking.for_session(self.id)  # its processes: cgroup or tree
        self._log = get_logger(session_id=self.id)

    @functools.cached_property
    def profile_dir(self) -> str:
        """The session's Chrome profile (0700)."""
        return str(self.ctx.config.layout.profile_dir(self.id))

    @functools.cached_property
    def tmp_dir(self) -> str:
        """The session's TMPDIR (Chrome's scratch)."""
        return str(self.ctx.config.layout.tmp_dir(self.id))

    def running(self) -> bool:
        """True while a runner task keeps this session's worker alive (or waits to)."""
        return self.runner is not None and not self.runner.done()

    def live_worker(self) -> WorkerProcess | None:
        """The worker while it runs for this session (None when stopped, failed or exited),
        so that figures of a dead worker are never shown as current."""
        worker = self.worker
        if worker is None or worker.returncode is not None or self.state not in RUNNING_STATES:
            return None
        return worker

    def offered_qr(self) -> str | None:
        """The QR code to scan, while the session waits for one. The driver sends each new QR
        before it reports SCAN_QR_CODE, so a QR offered here is never a previous one."""
        return self.qr if self.state == State.SCAN_QR_CODE else None

    def transition(self, new: State, reason: str = "") -> None:
        """The one place a state changes."""
        old = self.state
        if new not in ALLOWED[old]:
            raise Conflict(f"session {self.id!r} cannot go from {old} to {new}")
        self.state, self.detail = new, reason
        if new != old:
            self.since = time.time()
        self._log.info("session.state", old=str(old), new=str(new), reason=reason)
        self.ctx.bus.publish("session.status", self.id, {"state": str(new), "old": str(old),
                                                         "reason": reason})

    def update_record(self, **values: Any) -> None:
        """Persist some fields and keep the in-memory record in step."""
        self.ctx.store.update_session(self.id, **values)
        self.record = dataclasses.replace(self.record, **values)

    # -- the supervision loop -------------------------------------------------------------

    async def run(self) -> None:
        """Keep a worker running until cancelled (stop) or FAILED. Never raises, except
        CancelledError, so that one session can never take the daemon down."""
        try:
            delay = 0.0
            while True:
                if delay:
                    self.transition(State.STARTING, f"restarting in {delay:.1f}s (backoff)")
                    await asyncio.sleep(delay)
                refused = await self.ctx.fencing.claim(self)  # a cluster's claim (gate)
                if refused is not None:
                    self._fail(refused)
                    return
                try:
                    uptime = await self._run_once()
                finally:
                    await self.ctx.fencing.closed(self, self.worker)
                delay_or_none = self._after_exit(uptime)
                if delay_or_none is None:
                    return
                delay = delay_or_none
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug of ours: contain it to this session
            self._log.exception("session.supervisor_error")
            self._fail(f"internal error: {exc!r}")

    def request_recycle(self, reason: str) -> bool:
        """Replace this session's Chrome gracefully (same profile, login kept); not a crash.
        False when there is nothing running to recycle."""
        if self.state != State.WORKING or self._recycle.is_set():
            return False
        self.recycle_reason = reason
        self._recycle.set()
        return True

    def extend_lease(self, until_monotonic: float) -> bool:
        """Extend its worker's lease (also while it stops: sessions.fencing), without waiting;
        False when no live worker was told."""
        return self.worker is not None and self.worker.lease(until_monotonic)

    def _after_exit(self, uptime_s: float) -> float | None:
        """Carry out what follows a worker exit (see exits.decide): a delay before the next
        start, or None (FAILED)."""
        worker = self.worker
        assert worker is not None
        ended = Exit(worker.returncode, worker.exit_kind, worker.exit_reason or "worker exited")
        decision = decide(ended, self._recycle.is_set(), self.policy, self.ctx.breaker, uptime_s,
                          time.monotonic())
        self._recycle.clear()
        if decision.action == Action.RECYCLED:
            self.update_record(last_exit=f"recycled: {self.recycle_reason}")
            self._log.info("session.recycled", reason=self.recycle_reason)
            self.ctx.bus.publish("session.recycled", self.id, {"reason": self.recycle_reason})
            return 0.0
        if decision.breaker_opened:
            self._log.warning("breaker.open", cooldown_s=self.ctx.config.limits.breaker_cooldown_s)
        if decision.crash:  # counted
            self.update_record(restarts=self.record.restarts + 1, last_exit=ended.reason)
        if decision.action in (Action.FAIL, Action.FENCED):
            self._fail(decision.reason)
            if decision.action == Action.FENCED:  # no crash: the cluster layer decides what next
                self.ctx.fencing.fenced(self.id, decision.reason)
            return None
        self.ctx.bus.publish("session.restart", self.id, {
            "kind": restart_kind(ended), "reason": ended.reason, "returncode": worker.returncode,
            "delay_s": round(decision.delay_s, 2), "restarts": self.record.restarts})
        return decision.delay_s

    def _fail(self, reason: str) -> None:
        self.update_record(last_error=reason)
        self.transition(State.FAILED, reason)

    async def _run_once(self) -> float:
        """Spawn one worker, boot it through the start queue, wait for it to exit.
        Returns how long it ran once ready (0 if it never was)."""
        limits = self.ctx.config.limits
        worker = WorkerProcess(self.id, self.ctx.spawner, worker_env(self.ctx.config, self.id, self.headless),
                               kill_grace_s=limits.kill_grace_s, on_event=self._on_worker_event)
        self.worker = worker
        self._ready.clear()
        ready_at = 0.0
        try:
            async with asyncio.TaskGroup() as tg:
                try:
                    async with self.ctx.start_slots:
                        if self.state != State.STARTING:
                            self.transition(State.STARTING, "launching Chrome")
                        try:
                            await asyncio.to_thread(self.procs.prepare)
                            await worker.spawn()
                            await attach(self.procs, worker)
                        except (OSError, ZapvisorError) as exc:
                            # EMFILE, EAGAIN, a zygote gone: a crash like any other, so it
                            # is retried with backoff rather than failing the session.
                            worker.set_exit(SupervisorCause.SPAWN_FAILED,
                                            f"cannot start a worker: {exc}")
                            self._log.error("worker.spawn_failed", error=str(exc))
                            return 0.0
                        tg.create_task(worker.serve())
                        if await self._boot(worker):
                            ready_at = self.ready_at = time.monotonic()
                    await self._wait_exit_or_recycle(worker)
                except asyncio.CancelledError:
                    # A stop: run the close order while serve() still reads the replies.
                    await worker.stop(self.ctx.config.sessions.stop_timeout_s)
                    raise
        finally:
            self.ready_at = 0.0
            # Reached on every path, including a second cancellation in the middle of the
            # stop ladder: nothing of this worker may survive it.
            worker.kill()
            await self.ctx.end_leftovers(self.id, self.procs)
        return time.monotonic() - ready_at if ready_at else 0.0

    async def _boot(self, worker: WorkerProcess) -> bool:
        """Send the boot request and wait for the first ready state.
        False if the worker failed to boot or exited first (it is then stopped)."""
        cfg = self.ctx.config
        try:
            spec = boot_spec(cfg, self.id, self.profile_dir, self.tmp_dir, self.headless, self.record.options,
                             lease_until=self.ctx.fencing.until)
            result = await worker.request(protocol.OP_BOOT, dict(spec),
                                          timeout_s=cfg.chrome.launch_timeout_s + 5)
        except ZapvisorError as exc:
            if worker.returncode is None:  # a refusal, not a death: keep its words
                worker.set_exit(SupervisorCause.BOOT_REFUSED, f"{exc.type}: {exc.message}")
            await wait_exit_or_terminate(worker, cfg.chrome.close_timeout_s + 2)
            return False
        worker.chrome_pid = result.get("chrome_pid")
        # Counted only while the host is not starved: a mass start on a small box is slow,
        # not failed.
        done = await wait_first({"ready": self._ready.wait(), "exited": worker.wait_exited()},
                                remaining=self.ctx.host.budget(cfg.sessions.start_timeout_s))
        if "ready" in done:
            return True
        if not done:
            worker.set_exit(SupervisorCause.START_TIMEOUT,
                            f"not ready within {cfg.sessions.start_timeout_s:g}s")
            await worker.stop(cfg.sessions.stop_timeout_s)
        return False

    async def _wait_exit_or_recycle(self, worker: WorkerProcess) -> None:
        """Wait for the worker to exit; on a recycle request, stop it in the close order."""
        done = await wait_first({"recycle": self._recycle.wait(), "exited": worker.wait_exited()})
        if "exited" not in done:
            await worker.stop(self.ctx.config.sessions.stop_timeout_s)
            await worker.wait_exited()

    def _on_worker_event(self, event: str, data: dict[str, Any]) -> None:
        if event == protocol.EV_HEARTBEAT:
            return  # liveness, not news (supervisor.sessions.liveness reads it)
        if event == protocol.EV_STATE:
            self._on_worker_state(str(data.get("state")), str(data.get("reason", "")))
            phone = data.get("phone_number")
            if phone and (changes := login_changes(self.record, str(phone), time.time())):
                self.update_record(**changes)  # the number, and the date its warm-up counts from
        elif event == protocol.EV_QR:
            self.qr = str(data.get("qr"))
        elif event == protocol.EV_LOGOUT:
            self.update_record(phone_number=None)
            reason = f"logged out ({data.get('origin') or 'phone'})"
            self.ending = reason if self.ctx.logged_out(self.id, reason) else ""
        else:
            self.page.update(event, data)
        if event not in _WORKER_INTERNAL:
            self.ctx.bus.publish(event, self.id, data)

    def _on_worker_state(self, name: str, reason: str) -> None:
        if name == protocol.WorkerState.FAILED:
            # The driver gave up; the worker exits 3 next and run() marks us FAILED.
            if self.worker is not None:
                self.worker.exit_reason = reason or "the page driver failed"
            return
        state = _WORKER_STATES.get(name)  # type: ignore[call-overload]
        if state is None or self.state not in _WORKER_STATES.values() or self.ending:
            return
        if state != self.state:
            self.transition(state, reason)
        if state in (State.SCAN_QR_CODE, State.WORKING):
            self._ready.set()
