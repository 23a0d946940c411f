"""Send queue commands of the ``zapvisor`` CLI: ``queue`` (a session's open sends, its limits
and their use) and ``cancel`` (a send not yet begun)."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

import click

from supervisor.cli.client import Client
from supervisor.cli.common import Commands, client_command
from supervisor.cli.output import Rendered

__all__ = ["COMMANDS"]

COMMANDS = Commands()
_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


def _path(session_id: str, tail: str = "") -> str:
    return f"/api/sessions/{quote(session_id, safe='')}/queue{tail}"


def _when(ts: Any) -> str:
    return datetime.datetime.fromtimestamp(float(ts)).strftime("%H:%M:%S") if ts else "-"


def _limits_line(policy: dict[str, Any]) -> str:
    used = [f"{name.removeprefix('per_')} {v['used']}/{v['limit']}"
            for name, v in policy["limits"].items() if v["limit"]]
    if policy.get("warmup_cap"):
        used.append(f"warm-up day {policy['warmup_day']}: {policy['warmup_cap']}/day")
    return "limits: " + (", ".join(used) or "none")


@COMMANDS.command()
@click.argument("session_id")
@click.option("--status", "statuses", multiple=True, type=click.Choice(_STATUSES),
              help="show sends in this status (repeatable; default: queued and sending)")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@client_command
def queue(client: Client, session_id: str, statuses: tuple[str, ...], limit: int) -> Any:
    """List SESSION_ID's queued sends, with its limits and how much of them is used."""
    wanted = ",".join(statuses or ("queued", "sending"))
    result = client.get(_path(session_id, f"?status={wanted}&limit={limit}"))
    rows = [["ID", "TO", "KIND", "STATUS", "HELD BY", "TRIES", "QUEUED"]]
    rows += [[str(e["queue_id"]), e["to"], e["kind"], e["status"], e["held_by"] or "-",
              str(e["attempts"]), _when(e["created_at"])] for e in result["entries"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
    text = f"{session_id}: {result['depth']} open\n{_limits_line(result['policy'])}\n{table}"
    return Rendered(result, text)


@COMMANDS.command()
@click.argument("session_id")
@click.argument("queue_id", type=click.IntRange(1))
@client_command
def cancel(client: Client, session_id: str, queue_id: int) -> Any:
    """Cancel queued send QUEUE_ID of SESSION_ID (not once its send has begun)."""
    result = client.delete(_path(session_id, f"/{queue_id}"))
    return Rendered(result, f"{session_id}: send {queue_id} cancelled")
