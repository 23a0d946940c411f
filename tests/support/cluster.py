"""A zapvisor cluster on this box for the tests: N real daemons (own state dirs, ports and node
ids) on one real Redis, their sessions on the WhatsApp simulator, profiles moving through a
shared snapshot store (a directory, or a real S3 API)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from supervisor.cluster import FORWARDED_BY
from tests.support.daemon import Daemon
from tests.support.procs import kill_marked, wait_until
from tests.support.proxies import free_port
from tests.support.redis import RedisServer
from tests.support.wa import wa_daemon
from tests.wasim import RunningSimulator

__all__ = ["FORWARDED_BY", "Cluster", "chromes_of", "cluster_of"]


class Cluster:
    """The nodes ``n1``…``nN``; ``nodes[i]`` is a Daemon (not started until :meth:`start`)."""

    def __init__(self, base: Path, redis: RedisServer, sim: RunningSimulator, count: int,
                 snapshots: dict[str, Any], lease_s: float = 3.0, **overrides: dict[str, Any]) -> None:
        self.redis = redis
        self.lease_s = lease_s
        self.nodes: list[Daemon] = []
        for i in range(1, count + 1):
            port = free_port()
            (base / f"n{i}").mkdir(parents=True, exist_ok=True)
            self.nodes.append(wa_daemon(
                base / f"n{i}", port, sim,
                cluster={"redis_url": redis.url, "node_id": f"n{i}", "lease_s": lease_s,
                         "advertise_url": f"http://127.0.0.1:{port}"},
                snapshots=dict(snapshots), **overrides))

    def node(self, name: str) -> Daemon:
        """The daemon of node ``name`` (``n1``…)."""
        return self.nodes[int(name[1:]) - 1]

    def start(self) -> Cluster:
        for d in self.nodes:
            d.start()
        wait_until(lambda: all(n["alive"] for n in self.status()["nodes"])
                   and len(self.status()["nodes"]) == len(self.nodes),
                   timeout=30, message="every node's lease live")
        return self

    def status(self, via: Daemon | None = None) -> dict[str, Any]:
        """GET /api/cluster from ``via`` (default: the first running node)."""
        d = via or next(d for d in self.nodes if d.proc is not None and d.proc.poll() is None)
        result: dict[str, Any] = d.client.get("/api/cluster")
        return result

    def owners(self, via: Daemon | None = None) -> dict[str, str | None]:
        """Session id -> the node owning it, as the cluster says."""
        return {s["session"]: s["node"] if s["alive"] else None for s in self.status(via)["sessions"]}

    def stop(self) -> None:
        for d in self.nodes:
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        for d in self.nodes:
            kill_marked(d.state_dir)


@contextmanager
def cluster_of(base: Path, redis: RedisServer, sim: RunningSimulator, count: int,
               snapshots: dict[str, Any], **kwargs: Any) -> Iterator[Cluster]:
    """``count`` nodes started; all stopped and swept at the end, whatever happened."""
    cluster = Cluster(base, redis, sim, count, snapshots, **kwargs)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def chromes_of(d: Daemon, session_id: str) -> list[psutil.Process]:
    """The live Chrome browser processes (not their children) with ``session_id``'s profile
    under ``d``'s state dir."""
    profile = str(d.state_dir / "sessions" / session_id / "profile")
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            args = proc.info["cmdline"] or []
            if (proc.info["status"] != psutil.STATUS_ZOMBIE and f"--user-data-dir={profile}" in args
                    and not any(a.startswith("--type=") for a in args)):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
