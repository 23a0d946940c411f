"""Session lifecycle commands of the ``zapvisor`` CLI: ``list``, ``create``, ``start``, ``stop``,
``restart``, ``delete``, ``status``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from supervisor.cli.client import Client
from supervisor.cli.common import Commands, client_command
from supervisor.cli.whatsapp import wait_logged_in

__all__ = ["COMMANDS"]

COMMANDS = Commands()


@COMMANDS.command("list")
@client_command
def list_(client: Client) -> Any:
    """List sessions: state, pids, memory, uptime, restarts."""
    return client.get("/api/sessions")


@COMMANDS.command()
@click.argument("session_id")
@click.option("--no-start", is_flag=True, help="create it stopped")
@click.option("--metadata", help="JSON object kept with the session")
@click.option("--wait", is_flag=True, help="show the QR code as it changes; return once WORKING")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="seconds for --wait")
@client_command
def create(client: Client, session_id: str, no_start: bool, metadata: str | None, wait: bool,
           timeout: float) -> Any:
    """Create a session (and start it)."""
    if wait and no_start:
        raise click.UsageError("--wait needs the session started (drop --no-start)")
    body: dict[str, Any] = {"id": session_id, "start": not no_start}
    if metadata:
        try:
            body["metadata"] = json.loads(metadata)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--metadata") from None
    created = client.post("/api/sessions", body)
    if wait:
        return wait_logged_in(client, session_id, timeout)
    return created


def _lifecycle(name: str, doc: str) -> None:
    @click.argument("session_id")
    @client_command
    def command(client: Client, session_id: str) -> Any:
        return client.post(f"/api/sessions/{session_id}/{name}")

    command.__doc__ = doc
    COMMANDS.command(name)(command)


_lifecycle("start", "Start a stopped or failed session.")
_lifecycle("stop", "Stop a session (it stays stopped across daemon restarts).")
_lifecycle("restart", "Restart a session on the same profile.")


@COMMANDS.command()
@click.argument("session_id")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@client_command
def delete(client: Client, session_id: str, yes: bool) -> Any:
    """Stop a session and delete its profile and record."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete session {session_id!r} and its WhatsApp login?", abort=True)
    return client.delete(f"/api/sessions/{session_id}")


@COMMANDS.command()
@click.argument("session_id", required=False)
@client_command
def status(client: Client, session_id: str | None) -> Any:
    """Status of one session, or the daemon's totals."""
    if session_id:
        return client.get(f"/api/sessions/{session_id}/status")
    return client.get("/api/stats")
