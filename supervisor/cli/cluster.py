"""``zapvisor cluster status`` (the nodes, their leases and where each session runs),
``zapvisor cluster deliveries`` (the webhook deliveries the cluster gave up on) and ``zapvisor
cluster retry EVENT_ID URL`` (one of them queued again), and
``zapvisor node drain|undrain [NODE]`` (move every session off a node, or let it take sessions
again), ``zapvisor node forget NODE`` (a retired node off the list), ``zapvisor node tag NODE
[TAG...]`` (where sessions asking for tags may run). Any node answers: they all
read the same Redis."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import click

from supervisor.cli.client import Client
from supervisor.cli.common import client_command
from supervisor.cli.output import Rendered, clock, table

__all__ = ["cluster", "node"]


@click.group()
def cluster() -> None:
    """The cluster this daemon is a node of ([cluster] redis_url)."""


def _lease(n: dict[str, Any]) -> str:
    if not n["alive"]:
        return "expired"
    return f"{n['lease_age_s']:.1f}s ago" if n.get("lease_age_s") is not None else "live"


@cluster.command()
@client_command
def status(client: Client) -> Any:
    """Every node (lease, load, draining) and which node owns each session."""
    result = client.get("/api/cluster")
    nodes = [["NODE", "URL", "LEASE", "SESSIONS", "MEMORY", "STATE", "TAGS"]]
    nodes += [[n["node"] + (" *" if n.get("self") else ""), n["url"], _lease(n),
               f"{n['sessions']}/{n['max_sessions']}",
               f"{n['memory_mb']:.0f} MB" if n.get("memory_mb") is not None else "-",
               "draining" if n["draining"] else ("up" if n["alive"] else "down"),
               ",".join(n.get("tags") or []) or "-"]
              for n in result["nodes"]]
    placed = [["SESSION", "NODE", "TOKEN", "DESIRED"]]
    placed += [[s["session"], (s["node"] or "(moving)") + ("" if s["alive"] else " (gone)"),
                str(s["token"]), s["desired"] or "-"] for s in result["sessions"]]
    text = (f"node {result['node']} (lease {result['lease_s']:g}s, snapshots: "
            f"{result['snapshots'] or 'none'})\n\n{table(nodes)}\n\n{table(placed)}")
    return Rendered(result, text)


def _last(d: dict[str, Any]) -> str:
    if d.get("last_error"):
        return str(d["last_error"])[:60]
    return f"HTTP {d['last_status']}" if d.get("last_status") else "-"


@cluster.command()
@click.option("--session", "session_id", metavar="ID", help="only this session's deliveries")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@client_command
def deliveries(client: Client, session_id: str | None, limit: int) -> Any:
    """The webhook deliveries the cluster gave up on, newest first (retry one with
    ``zapvisor cluster retry EVENT_ID URL``)."""
    query = {"limit": str(limit), **({"session": session_id} if session_id else {})}
    result = client.get(f"/api/cluster/deliveries?{urlencode(query)}")
    rows = [["EVENT_ID", "EVENT", "SESSION", "TRIES", "LAST", "FAILED", "NODE", "URL"]]
    rows += [[d["event_id"], d["event"], d["session"] or "-", str(d["attempts"]), _last(d),
              clock(d["failed_at"]), d["node"], d["url"]] for d in result["deliveries"]]
    listing = table(rows) if result["deliveries"] else "no failed deliveries"
    return Rendered(result, f"{result['total']} given up in the cluster\n{listing}")


@cluster.command()
@click.argument("event_id")
@click.argument("receiver", metavar="URL")  # not "url": --url names the daemon
@client_command
def retry(client: Client, event_id: str, receiver: str) -> Any:
    """Send the given-up delivery of EVENT_ID to URL again (its session's shard delivers it)."""
    result = client.post("/api/cluster/deliveries/retry", {"event_id": event_id, "url": receiver})
    return Rendered(result, f"event {event_id} to {receiver}: queued again ({result['status']})")


@click.group()
def node() -> None:
    """A node of the cluster: drain it before a reboot, undrain it after."""


def _target(client: Client, name: str | None) -> str:
    return name or str(client.get("/api/cluster")["node"])


@node.command()
@click.argument("name", required=False)
@client_command
def drain(client: Client, name: str | None) -> Any:
    """Move every session off node NAME (default: the one answering): each stops in order, its
    profile's snapshot is taken, another node starts it. NAME takes no new session until undrained."""
    target = _target(client, name)
    result = client.post(f"/api/cluster/nodes/{quote(target, safe='')}/drain")
    return Rendered(result, f"{target}: drained, {len(result['moved'])} sessions moved")


@node.command()
@click.argument("name", required=False)
@client_command
def undrain(client: Client, name: str | None) -> Any:
    """Let node NAME (default: the one answering) take sessions again."""
    target = _target(client, name)
    result = client.post(f"/api/cluster/nodes/{quote(target, safe='')}/undrain")
    return Rendered(result, f"{target}: takes sessions again")


@node.command()
@click.argument("name")
@client_command
def forget(client: Client, name: str) -> Any:
    """Take retired node NAME off the node list (once it is stopped and its sessions were taken
    over by the others)."""
    result = client.delete(f"/api/cluster/nodes/{quote(name, safe='')}")
    return Rendered(result, f"{name}: forgotten")


@node.command()
@click.argument("name")
@click.argument("tags", nargs=-1)
@client_command
def tag(client: Client, name: str, tags: tuple[str, ...]) -> Any:
    """Give node NAME these TAGS (replacing its previous ones; none clears them). Sessions whose
    node_tags option asks for tags are placed and taken over only on nodes that have them all."""
    result = client.request("PUT", f"/api/cluster/nodes/{quote(name, safe='')}/tags", {"tags": list(tags)})
    return Rendered(result, f"{name}: tags {', '.join(result['tags']) or '(none)'}")
