"""``zapvisor webhooks``: the webhook outbox's deliveries (``GET /api/webhooks/deliveries``),
one (``show ID``, with its event), and a failed one sent again (``retry ID``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import click

from supervisor.cli.client import Client
from supervisor.cli.common import client_command
from supervisor.cli.output import Rendered, clock, table

__all__ = ["webhooks"]

#: The outbox's statuses (supervisor.events.outbox.STATUSES; the daemon checks them too).
_STATUSES = ("pending", "delivered", "failed")


class _ListByDefault(click.Group):
    """A group whose listing is also what it does alone: ``zapvisor webhooks --status failed``
    is ``zapvisor webhooks list --status failed``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ListByDefault)
def webhooks() -> None:
    """Webhook deliveries: list them (the default), show one, retry a failed one."""


def _last(d: dict[str, Any]) -> str:
    if d.get("last_error"):
        return str(d["last_error"])[:60]
    return f"HTTP {d['last_status']}" if d.get("last_status") else "-"


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name} {counts.get(name, 0)}" for name in _STATUSES)


@webhooks.command("list")
@click.option("--status", type=click.Choice(_STATUSES), help="only deliveries in this status")
@click.option("--session", "session_id", metavar="ID", help="only this session's deliveries")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@client_command
def list_(client: Client, status: str | None, session_id: str | None, limit: int) -> Any:
    """List deliveries, newest first: status, attempts, last error."""
    query = {"limit": str(limit), **({"status": status} if status else {}),
             **({"session": session_id} if session_id else {})}
    result = client.get(f"/api/webhooks/deliveries?{urlencode(query)}")
    rows = [["ID", "EVENT", "SESSION", "STATUS", "TRIES", "LAST", "UPDATED", "URL"]]
    rows += [[str(d["id"]), f"{d['event']} #{d['event_id']}", d["session"] or "-", d["status"],
              str(d["attempts"]), _last(d), clock(d["updated_at"]), d["url"]]
             for d in result["deliveries"]]
    listing = table(rows) if result["deliveries"] else "no deliveries"
    return Rendered(result, f"{_counts(result['counts'])}\n{listing}")


@webhooks.command()
@click.argument("delivery_id", type=click.IntRange(1))
@client_command
def show(client: Client, delivery_id: int) -> Any:
    """Show delivery DELIVERY_ID, with the event it carries."""
    result: dict[str, Any] = client.get(f"/api/webhooks/deliveries/{delivery_id}")
    return result


@webhooks.command()
@click.argument("delivery_id", type=click.IntRange(1))
@client_command
def retry(client: Client, delivery_id: int) -> Any:
    """Send failed delivery DELIVERY_ID again (it goes next in its session's queue)."""
    result = client.post(f"/api/webhooks/deliveries/{delivery_id}/retry")
    return Rendered(result, f"delivery {delivery_id} queued again ({result['status']})")
