"""A supervisor that holds its workers under leases, for the fencing tests: the product's
Registry (Sessions, WorkerProcesses, the zygote, the liveness monitor, as the daemon runs them)
plus the lease loop a cluster node runs (supervisor.sessions.fencing), in a process of its own
that a test can freeze with SIGSTOP. No HTTP API and no Redis: the loop renews every
``lease_s / 3`` as if each Redis write had succeeded.

``python -m tests.support.leaseholder CONFIG LEASE_S`` creates and starts session ``s1`` and
prints one JSON object per line on stdout:

- ``{"state", "reason", "worker_pid", "chrome_pid", "renewals"}`` on each state change of s1;
- ``{"renewals": n, "told": workers}`` after each renewal;
- ``{"fenced": reason}`` when Fencing.on_fenced is called;
- ``{"runner_done": true, "state", "restarts", "breaker_trips", "last_error"}`` once s1's runner
  has returned (nothing restarts it after that).

SIGTERM stops it in order (the sessions, then the zygote) and it exits 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from supervisor import config as configuration
from supervisor.events.bus import Event, EventBus
from supervisor.logs import configure
from supervisor.sessions.fencing import worker_deadline
from supervisor.sessions.registry import Registry
from supervisor.store import Store

SESSION = "s1"


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


class Holder:
    """The registry and its lease loop."""

    def __init__(self, registry: Registry, lease_s: float) -> None:
        self.registry = registry
        self.lease_s = lease_s
        self.renewals = 0
        registry.fencing.on_fenced = lambda session_id, reason: emit({"fenced": reason})

    def renew(self) -> None:
        """One renewal: read the clock (where the Redis write would start), then tell every
        new worker and every live one."""
        until = worker_deadline(time.monotonic(), self.lease_s)
        self.registry.fencing.renew(until)
        told = sum(session.extend_lease(until) for session in self.registry.sessions.values())
        self.renewals += 1
        emit({"renewals": self.renewals, "told": told})

    async def keep_renewing(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            self.renew()

    def on_event(self, event: Event) -> None:
        if event["event"] != "session.status" or event["session"] != SESSION:
            return
        worker = self.registry.sessions[SESSION].worker
        emit({"state": event["payload"]["state"], "reason": event["payload"]["reason"],
              "worker_pid": worker.pid if worker else None,
              "chrome_pid": worker.chrome_pid if worker else None, "renewals": self.renewals})


async def main(config_path: Path, lease_s: float) -> None:
    cfg = configuration.load(config_path, env={})
    configure(cfg.logging.level, cfg.logging.format)
    cfg.layout.sessions.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = Store(cfg.layout.database)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    bus = EventBus()
    try:
        async with asyncio.TaskGroup() as tg:
            registry = Registry(cfg, store, bus, tg)
            holder = Holder(registry, lease_s)
            bus.listen(holder.on_event)
            await registry.spawner.warm_up()
            holder.renew()  # before the first start: no worker ever boots without a lease
            helpers = [tg.create_task(holder.keep_renewing()), tg.create_task(registry.host.run())]
            session = await registry.create(SESSION, start=True, metadata={})
            assert session.runner is not None
            runner = session.runner
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([runner, stopping], return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                emit({"runner_done": True, "state": str(session.state), "restarts": session.record.restarts,
                      "breaker_trips": registry.breaker.trips, "last_error": session.record.last_error})
                await stopping
            await registry.shutdown()
            await registry.close()
            for task in helpers:
                task.cancel()
    finally:
        store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2])))
