"""Worker leases (fencing) piece by piece: the exit decision, the boot spec's lease, the
worker's Lease and its OP_LEASE answers, and the supervisor's Fencing. End to end, with real
workers and Chrome: tests/integration/test_fencing.py."""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import time
from types import SimpleNamespace
from typing import Any

import pytest

from supervisor.config import Config
from supervisor.procs.process import SupervisorCause, WorkerProcess, describe_exit
from supervisor.procs.spawner import ExecSpawner
from supervisor.sessions.backoff import CrashBreaker, RestartPolicy
from supervisor.sessions.bootspec import boot_spec
from supervisor.sessions.exits import Action, Exit, decide
from supervisor.sessions.fencing import FENCE_AHEAD, Fencing, worker_deadline
from supervisor.settings import LimitsConfig
from worker import protocol
from worker.errors import BadBootSpec
from worker.lease import Lease, valid_until
from worker.ops import Operations
from worker.spec import parse_boot

LIMITS = LimitsConfig(restart_backoff_initial_s=1.0, restart_backoff_jitter=0.0, max_fast_crashes=3,
                      breaker_crashes=1)
FENCED_REASON = "fenced: the supervisor's lease lapsed 0.01s ago"


@pytest.mark.parametrize(("exit", "recycling"), [
    (Exit(protocol.EXIT_FENCED, protocol.ExitKind.FENCED, FENCED_REASON), False),
    (Exit(protocol.EXIT_FENCED, protocol.ExitKind.FENCED, FENCED_REASON), True),  # not a recycle
    # Its last words lost (a frozen daemon's full socket) or a verdict of ours: the code says it.
    (Exit(protocol.EXIT_FENCED, None, describe_exit(protocol.EXIT_FENCED)), False),
    (Exit(protocol.EXIT_FENCED, SupervisorCause.HEARTBEAT_TIMEOUT, "no heartbeat for 30s"), False),
    # Killed by the alarm after saying it (a shutdown that hung): the kind says it.
    (Exit(-14, protocol.ExitKind.FENCED, FENCED_REASON), False),
])
def test_a_fenced_exit_is_neither_restarted_nor_a_crash(exit: Exit, recycling: bool) -> None:
    policy, breaker = RestartPolicy(LIMITS), CrashBreaker(LIMITS)
    decision = decide(exit, recycling, policy, breaker, 0.0, 100.0)
    assert decision.action == Action.FENCED
    assert decision.reason.startswith("fenced")
    assert not decision.crash and not decision.breaker_opened
    assert policy.fast_crashes == 0 and breaker.hold_s(100.0) == 0.0  # one crash would open it
    # A crash next to it is still one (the breaker opens at its first crash here).
    assert decide(Exit(protocol.EXIT_CRASH, None, "boom"), False, policy, breaker, 0.0, 100.0).crash


def test_describe_exit_names_the_fenced_code() -> None:
    assert describe_exit(protocol.EXIT_FENCED).startswith("fenced")
    assert protocol.EXIT_FENCED not in (protocol.EXIT_OK, protocol.EXIT_CRASH, protocol.EXIT_BOOT_FAILURE, 2)


def test_the_boot_spec_carries_a_lease_only_when_there_is_one() -> None:
    config = Config()
    assert "lease_until_monotonic" not in boot_spec(config, "s", "/p", "/t")
    spec = boot_spec(config, "s", "/p", "/t", lease_until=1234.5)
    assert spec["lease_until_monotonic"] == 1234.5
    assert parse_boot(protocol.make_request(1, protocol.OP_BOOT, dict(spec))).spec["lease_until_monotonic"] == 1234.5
    for bad in ("soon", True, None, math.nan, math.inf, [1.0]):
        with pytest.raises(BadBootSpec, match="lease_until_monotonic"):
            parse_boot(protocol.make_request(1, protocol.OP_BOOT, {**spec, "lease_until_monotonic": bad}))


def test_valid_until_takes_finite_numbers_only() -> None:
    assert valid_until(5) == 5.0 and valid_until(2.5) == 2.5 and valid_until(-1.0) == -1.0
    assert [valid_until(v) for v in (True, "1", None, math.nan, -math.inf)] == [None] * 5


@pytest.mark.asyncio
async def test_a_lease_lapses_at_its_newest_deadline_and_is_never_revived() -> None:
    lease = Lease()
    assert lease.until is None and not lease.lapsed()
    waiting = asyncio.ensure_future(lease.wait_lapsed())
    await asyncio.sleep(0)  # let it park on "no lease yet"
    assert not waiting.done()
    first = time.monotonic() + 60
    assert lease.extend(first)
    later = time.monotonic() + 0.3
    assert lease.extend(later)  # the newest word wins, also a shorter lease
    assert await asyncio.wait_for(waiting, 10) == later
    assert lease.lapsed()
    assert not lease.extend(time.monotonic() + 60)  # too late: another node may run it now
    assert lease.until == later and lease.lapsed()


async def _answer(ops: Operations, args: dict[str, Any]) -> dict[str, Any]:
    return await ops.answer(protocol.make_request(7, protocol.OP_LEASE, args))


@pytest.mark.asyncio
async def test_op_lease_answers() -> None:
    lease = Lease()
    ops = Operations(lambda: None, lease)
    reply = await _answer(ops, {"until_monotonic": time.monotonic() + 30})
    assert reply["ok"] and 0 < reply["result"]["remaining_s"] <= 30
    for bad in ({}, {"until_monotonic": "later"}, {"until_monotonic": False}):
        reply = await _answer(ops, bad)
        assert reply["error"]["type"] == protocol.ErrorType.INVALID_REQUEST, reply
    assert (await _answer(ops, {"until_monotonic": time.monotonic() - 1}))["ok"]  # shortened: lapsed now
    reply = await _answer(ops, {"until_monotonic": time.monotonic() + 30})
    assert reply["error"]["type"] == protocol.ErrorType.CONFLICT and "lapsed" in reply["error"]["message"]


def test_fencing_defaults_to_no_lease_and_calls_its_hook() -> None:
    fencing = Fencing()
    assert fencing.until is None
    fencing.fenced("s", "fenced: nobody listens")  # no hook: nothing happens
    calls: list[tuple[str, str]] = []
    fencing.on_fenced = lambda session_id, reason: calls.append((session_id, reason))
    fencing.renew(99.0)
    fencing.fenced("s", "fenced: x")
    assert fencing.until == 99.0 and calls == [("s", "fenced: x")]
    # A worker's lease ends before the node's (renewals every lease_s / 3 may fail once).
    assert worker_deadline(100.0, 12.0) == pytest.approx(100.0 + 12.0 * (1 - FENCE_AHEAD))
    assert 100.0 + 12.0 * 2 / 3 < worker_deadline(100.0, 12.0) < 112.0


@pytest.mark.asyncio
async def test_a_lease_for_no_worker_is_not_sent() -> None:
    worker = WorkerProcess("s", ExecSpawner(), {}, kill_grace_s=1.0, on_event=lambda e, d: None)
    assert worker.lease(time.monotonic() + 10) is False


class _Peer:
    """A spawner whose "worker" is the test itself: it keeps the worker's end of the socket."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None

    async def spawn(self, session_id: str, env: dict[str, str], fd: int) -> Any:
        self.sock = socket.socket(fileno=os.dup(fd))
        return SimpleNamespace(pid=os.getpid(), returncode=None)

    def frame(self) -> dict[str, Any]:
        """The next frame the supervisor wrote."""
        assert self.sock is not None
        self.sock.settimeout(5)
        head = self.sock.recv(4, socket.MSG_WAITALL)
        body = self.sock.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
        frame: dict[str, Any] = json.loads(body)
        return frame


@pytest.mark.asyncio
async def test_no_lease_goes_to_a_worker_before_its_boot_request() -> None:
    # The cluster extends its workers' leases on its own cadence; a worker just spawned reads
    # its boot request first and refuses anything else (it would fail to boot: FAILED).
    peer = _Peer()
    worker = WorkerProcess("s", peer, {}, kill_grace_s=1.0, on_event=lambda e, d: None)
    await worker.spawn()
    assert worker.lease(time.monotonic() + 10) is False
    boot = asyncio.create_task(worker.request(protocol.OP_BOOT, {"lease_until_monotonic": 1.0}, timeout_s=5))
    first = await asyncio.to_thread(peer.frame)
    assert first["op"] == protocol.OP_BOOT
    assert worker.lease(time.monotonic() + 10) is True
    assert (await asyncio.to_thread(peer.frame))["op"] == protocol.OP_LEASE
    boot.cancel()
    await asyncio.gather(boot, return_exceptions=True)
    assert peer.sock is not None
    peer.sock.close()
