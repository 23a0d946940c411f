"""``zapvisor serve``: the daemon's main coroutine and its ordered shutdown.

Startup: lock the state directory (one daemon per directory), open the database, reap what
a previous run left behind, serve the API, restore the sessions that should run. Shutdown
(SIGTERM or SIGINT): stop accepting, stop every session in parallel in the close order,
within ``graceful_timeout_s``; a second signal forces (SIGKILL). Desired states are kept.
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import signal
import time
from typing import IO, TYPE_CHECKING

from aiohttp import web

from supervisor.api import app as api
from supervisor.api.keys import ENV_FILE, HUB, ROLES, SENDS
from supervisor.api.listener import ConnectionGuard, GuardedSite
from supervisor.apikey import generated_key_path, load_api_key
from supervisor.config import Config
from supervisor.errors import StateError
from supervisor.hardening import (
    LoopErrorLimiter,
    private_umask,
    raise_file_limit,
    tighten_state_dir,
    warn_if_root,
)
from supervisor.hub import Hub
from supervisor.layout import StateLayout
from supervisor.logs import get_logger
from supervisor.procs.cgroups import detect as detect_cgroups
from supervisor.procs.reaper import find_marked, kill_marked
from supervisor.sending.queues import SendQueues
from supervisor.sessions.housekeeping import Housekeeper, sweep_disk
from supervisor.sessions.leftovers import boot_sweep
from supervisor.sessions.mediastore import MediaKeeper
from supervisor.sessions.registry import Registry
from supervisor.sessions.rolebook import LocalRoleBook
from supervisor.sessions.roleenv import RoleEnvFile
from supervisor.sessions.roles import Roles, start_default_session
from supervisor.sessions.sampling import Sampler
from supervisor.store import Store
from supervisor.systemd import Notifier

__all__ = ["serve", "lock_state_dir"]

if TYPE_CHECKING:
    from supervisor.cluster.node import ClusterNode

_log = get_logger()


def lock_state_dir(layout: StateLayout) -> IO[str]:
    """Hold an exclusive flock on the state directory for the daemon's lifetime."""
    state_dir, path = layout.root, layout.lock_file
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StateError(
            f"another zapvisor daemon (pid {owner}) is already using the state directory "
            f"{state_dir}; stop it first, or use another [state] dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _prepare_state_dir(layout: StateLayout) -> None:
    state_dir = layout.root
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        layout.sessions.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create the state directory {state_dir}: {exc.strerror}") from None
    if not os.access(state_dir, os.W_OK):
        raise StateError(f"the state directory {state_dir} is not writable")
    tighten_state_dir(layout)


async def serve(config: Config) -> None:
    """Run the daemon until a signal stops it."""
    private_umask()  # before the first file: the database, the key, every child's files
    LoopErrorLimiter().install(asyncio.get_running_loop())
    warn_if_root()
    soft, hard = raise_file_limit()
    # Connections may use half the descriptors: workers, pipes and the database need the rest.
    guard = ConnectionGuard(min(config.server.max_connections, max(8, soft // 2)))
    _log.info("daemon.file_limit", soft=soft, hard=hard, max_connections=guard.limit)
    state_dir, layout = config.state_dir, config.layout
    _prepare_state_dir(layout)
    lock = lock_state_dir(layout)
    store = Store(layout.database)
    try:
        api_key, generated = load_api_key(config, create=True)
        if generated:
            # Never the key itself: logs go to journald and to log shippers.
            _log.warning("api_key.generated", saved_in=str(generated_key_path(config)),
                         note="the API key is in this file (0600), readable by the daemon's user")
        await _run(config, store, api_key, guard)
    finally:
        # Whatever happened above, no process of ours outlives the daemon.
        leftovers = find_marked(state_dir)
        if leftovers:
            _log.warning("daemon.final_sweep", count=len(leftovers))
            kill_marked(leftovers, grace_s=1.0)
        store.close()
        lock.close()


async def _run(config: Config, store: Store, api_key: str, guard: ConnectionGuard) -> None:
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[signal.Signals] = asyncio.Queue()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signals.put_nowait, sig)
    hub = Hub(config, store)
    cgroups, why_not = (await asyncio.to_thread(detect_cgroups, config.state_dir)
                        if config.sessions.cgroups == "auto" else (None, "[sessions] cgroups = off"))
    async with asyncio.TaskGroup() as tg:
        registry = Registry(config, store, hub.bus, tg, cgroups)
        hub.attach(registry)
        _log.info("daemon.process_tracking", kind=registry.tracking.kind,
                  cgroup=str(cgroups.base) if cgroups else None,
                  memory_controller=cgroups.memory if cgroups else None, why_not_cgroup=why_not or None)
        # Delivers until hub.close() in _shutdown, so the sessions' last events still go out.
        tg.create_task(hub.run(), name="webhooks")
        reaped = await boot_sweep(config.state_dir, registry.tracking, config.chrome.close_timeout_s,
                                  hub.bus)
        cluster = await join_cluster(config, registry, hub) if config.cluster.enabled else None
        app = api.build_app(registry, api_key, config.server.max_body_bytes,
                            config.server.body_timeout_s, guard, cluster)
        app[HUB] = hub
        app[SENDS] = sends = SendQueues(config, store, hub.bus, registry.sessions.get,
                                          hub.metrics.registry)
        local_roles = LocalRoleBook(store, registry)
        book = local_roles if cluster is None else await cluster.join_roles(local_roles)
        app[ROLES] = roles = Roles(book, hub.bus, registry)
        app[ENV_FILE] = env_file = RoleEnvFile(config.env_file, config.public_url, roles,
                                               on_write=hub.metrics.env_file_write)
        hub.bus.listen(env_file.on_event)
        await env_file.sync()  # the roles may have changed (numbers, deletions) since last run
        # aiohttp's keepalive_timeout also bounds how long a connection may take to send
        # its first request's headers (it closes a connection still waiting for them).
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               keepalive_timeout=config.server.header_timeout_s)
        await runner.setup()
        # Before the API listens: nothing may start a session while its scratch is swept.
        swept = await asyncio.to_thread(sweep_disk, config.layout, set())
        await registry.spawner.warm_up()
        site = GuardedSite(runner, config.server.host, config.server.port, guard)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StateError(f"cannot listen on {config.server.host}:{config.server.port}: "
                             f"{exc.strerror}") from None
        restored = registry.restore() if config.sessions.restore_on_boot else 0
        if config.sessions.start_default_session:
            await start_default_session(registry)
        notifier = Notifier()
        housekeeper = Housekeeper(registry, store, notifier)
        sampler = Sampler(config.limits, hub.bus, registry.sessions.values)
        keeper = MediaKeeper(registry)  # [media] auto_download
        hub.bus.listen(keeper.on_event)
        background = [tg.create_task(housekeeper.run(), name="housekeeping"),
                      tg.create_task(registry.host.run(), name="liveness"),
                      tg.create_task(sampler.run(), name="sampling"),
                      tg.create_task(keeper.run(), name="media"),
                      tg.create_task(sends.run(), name="sends")]
        # Runs until the sessions have stopped (their snapshots need Redis and the lease).
        node_task = tg.create_task(cluster.run(), name="cluster") if cluster is not None else None
        if notifier.watchdog_interval_s:
            background.append(tg.create_task(housekeeper.run_watchdog(), name="watchdog"))
        # What boot made lives as long as the daemon: out of the collector's full passes, which
        # would otherwise walk it all and stall requests now and then.
        gc.freeze()
        notifier.ready(housekeeper.status_line())
        _log.info("daemon.ready", url=f"http://{config.server.host}:{config.server.port}",
                  whatsapp_url=config.whatsapp.url, state_dir=str(config.state_dir), restored=restored, orphans_reaped=reaped,
                  disk_entries_swept=swept, systemd=notifier.enabled, pid=os.getpid(),
                  env_aliases=config.env_aliases or None, env_file=env_file.status())
        try:
            first = await signals.get()
            for task in background:
                task.cancel()
            # systemd may otherwise SIGKILL us in the middle of an orderly stop.
            notifier.stopping(f"stopping {registry.running_count()} sessions",
                              extend_s=config.server.graceful_timeout_s + 15)
            await _shutdown(config, registry, hub, runner, site, signals, first)
            await env_file.close()
            if cluster is not None and node_task is not None:
                node_task.cancel()
                await cluster.close()
        finally:
            notifier.close()


async def _shutdown(
    config: Config,
    registry: Registry,
    hub: Hub,
    runner: web.AppRunner,
    site: GuardedSite,
    signals: asyncio.Queue[signal.Signals],
    first: signal.Signals,
) -> None:
    started = time.monotonic()
    budget = config.server.graceful_timeout_s
    _log.info("daemon.stopping", signal=first.name, budget_s=budget)
    await site.stop()  # stop accepting connections first
    stopping = asyncio.ensure_future(registry.shutdown())
    second = asyncio.ensure_future(signals.get())
    try:
        done, _ = await asyncio.wait({stopping, second}, timeout=budget,
                                     return_when=asyncio.FIRST_COMPLETED)
        if stopping not in done:
            why = f"second signal {second.result().name}" if second in done else "budget exceeded"
            _log.warning("daemon.force_stop", reason=why)
            registry.kill_all()
            await asyncio.wait([stopping])
    finally:
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
    hub.close()  # event streams end here, else runner.cleanup() would wait on them
    await registry.close()
    await runner.cleanup()
    _log.info("daemon.stopped", seconds=round(time.monotonic() - started, 2))


async def join_cluster(config: Config, registry: Registry, hub: Hub) -> ClusterNode:
    """This daemon as a node of ``[cluster] redis_url``'s cluster (imported only then: a single
    host never loads Redis nor boto3); StateError if it cannot join."""
    from supervisor.cluster.node import ClusterNode
    from supervisor.cluster.snapshots import Snapshots, open_store

    snapshots = Snapshots(open_store(config.snapshots)) if config.snapshots.url else None
    node = ClusterNode(config, registry, snapshots, hub)
    await node.open()
    feed = node.events.feed  # a node's event streams read the cluster's stream, not its bus
    hub.metrics.count_streams(lambda: (feed.subscribers, feed.dropped))
    return node
