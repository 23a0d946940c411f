"""WhatsApp commands of the ``zapvisor`` CLI: ``qr``, ``send`` (a text or a file), ``pairing-code``, ``logout``,
``roles``/``role``, and the wait behind ``create --wait`` (added to the group by supervisor/cli/main.py)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import segno

from supervisor.cli.client import Client
from supervisor.cli.common import Commands, client_command
from supervisor.cli.output import Rendered
from supervisor.errors import Conflict, NotFound, Unavailable

__all__ = ["COMMANDS", "Rendered", "render_qr", "wait_logged_in", "why_not_running"]

COMMANDS = Commands()


_POLL_S = 0.5  # how often --wait asks the daemon (a human is scanning: no hurry)


def render_qr(value: str) -> str:
    """``value`` as a QR code drawn with block characters, for a terminal."""
    out = io.StringIO()
    segno.make_qr(value, error="l").terminal(out=out, compact=True, border=2)
    return out.getvalue()


def _path(session_id: str, tail: str = "") -> str:
    return f"/api/sessions/{quote(session_id, safe='')}{tail}"


def _show_qr_on_stderr(session_id: str, value: str) -> None:
    click.echo(render_qr(value), err=True)
    click.echo(f"{session_id}: scan this with WhatsApp > Linked devices "
               "(it is replaced every few seconds)", err=True)


def why_not_running(status: dict[str, Any]) -> str:
    """Why a session is FAILED (its error) or STOPPED (the reason of that change, such as a
    logout; after a daemon restart, how its last worker ended), from its status."""
    detail = status.get("detail") or ""
    if status.get("state") == "FAILED":
        return status.get("last_error") or detail or "-"
    if detail == "stopped":
        return "stopped on request"
    return detail or status.get("last_exit") or "-"


def wait_logged_in(client: Client, session_id: str, timeout_s: float,
                   on_qr: Callable[[str, str], None] = _show_qr_on_stderr) -> dict[str, Any]:
    """Show each new QR code (``on_qr(session_id, value)``: on stderr by default) until the
    session is WORKING; its info then. Conflict if it ends FAILED or STOPPED, Unavailable after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    shown: str | None = None
    while True:
        status = client.get(_path(session_id, "/status"))
        state = status["state"]
        if state == "WORKING":
            click.echo(f"{session_id}: logged in as +{status['phone_number']}", err=True)
            info: dict[str, Any] = client.get(_path(session_id))
            return info
        if state in ("FAILED", "STOPPED"):
            raise Conflict(f"session {session_id!r} is {state}: {why_not_running(status)}")
        if status.get("qr_available"):
            try:
                value = client.get(_path(session_id, "/qr?format=raw"))["value"]
            except NotFound:  # the QR went away between the two requests
                value = None
            if value and value != shown:
                shown = value
                on_qr(session_id, value)
        if time.monotonic() > deadline:
            raise Unavailable(f"session {session_id!r} not logged in within {timeout_s:g}s "
                              f"(it is {state})")
        time.sleep(_POLL_S)  # a person is scanning: asking twice a second is plenty


@COMMANDS.command()
@click.argument("session_id")
@click.option("--follow", is_flag=True, help="show each new QR code until the session is "
                                            "logged in (or fails)")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="seconds for --follow")
@client_command
def qr(client: Client, session_id: str, follow: bool, timeout: float, as_json: bool) -> Any:
    """Show the session's QR code in the terminal (scan it with WhatsApp > Linked devices).
    With --follow, each new one (one JSON line each with --json), then the session once WORKING."""
    if not follow:
        value = client.get(_path(session_id, "/qr?format=raw"))["value"]
        return Rendered({"value": value}, render_qr(value))

    def show(sid: str, value: str) -> None:
        if as_json:
            click.echo(json.dumps({"session": sid, "value": value}))
        else:
            click.echo(render_qr(value))
            click.echo(f"{sid}: scan this with WhatsApp > Linked devices (a new one follows "
                       "until it is scanned)")

    info = wait_logged_in(client, session_id, timeout, on_qr=show)
    if as_json:
        click.echo(json.dumps(info))
        return None
    return Rendered(info, f"{session_id}: WORKING as +{info['phone_number']}")


@COMMANDS.command()
@click.argument("session_id")
@click.argument("to")
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="send this file (image, video, audio, document, sticker) instead of a text")
@click.option("--caption", help="the file's caption")
@click.option("--voice", is_flag=True, help="send the audio file as a voice note")
@click.option("--no-wait", is_flag=True, help="answer once queued, without waiting for the send")
@client_command
def send(client: Client, session_id: str, to: str, text: str | None, file: Path | None,
         caption: str | None, voice: bool, no_wait: bool) -> Any:
    """Send TEXT, or a file (--file PATH), to TO (a phone number like +244 929 782 402, or a
    chat id ...@c.us, ...@g.us). Sends go through the session's paced queue: one held by
    pacing or a limit prints its queue id (see `zapvisor queue`)."""
    query = "?wait=false" if no_wait else ""
    if file is None:
        if text is None or caption is not None or voice:
            raise click.UsageError("give TEXT, or --file PATH (with --caption, --voice)")
        result = client.post(_path(session_id, f"/messages{query}"), {"to": to, "text": text})
    else:
        if text is not None:
            raise click.UsageError("give TEXT or --file, not both (use --caption for the file's text)")
        fields = {"to": to, **({"caption": caption} if caption else {}), **({"voice": "true"} if voice else {})}
        result = client.post_file(_path(session_id, f"/media{query}"), fields, file)
    if result.get("status") == "sent":
        return result
    held = f", held by {result['held_by']}" if result.get("held_by") else ""
    return Rendered(result, f"queued as {result['queue_id']} ({result['status']}{held}); "
                            f"see: zapvisor queue {session_id}")


@COMMANDS.command("pairing-code")
@click.argument("session_id")
@click.argument("phone")
@client_command
def pairing_code(client: Client, session_id: str, phone: str) -> Any:
    """Get a code to type on the phone PHONE instead of scanning the QR code."""
    result = client.post(_path(session_id, "/pairing-code"), {"phone": phone})
    return Rendered(result, f"{result['display']}  (WhatsApp > Linked devices > Link with phone number)")


@COMMANDS.command()
@click.argument("session_id")
@client_command
def logout(client: Client, session_id: str) -> Any:
    """Log the session's WhatsApp account out."""
    return client.post(_path(session_id, "/logout"))


@COMMANDS.command()
@client_command
def roles(client: Client) -> Any:
    """List roles and their sessions."""
    result = client.get("/api/roles")
    return Rendered(result, "\n".join(map(_role_line, result["roles"])) or "no roles")


@COMMANDS.command()
@click.argument("name")
@click.argument("sessions", nargs=-1)
@client_command
def role(client: Client, name: str, sessions: tuple[str, ...]) -> Any:
    """Set the sessions of role NAME, in round-robin order (none: delete the role)."""
    result = client.request("PUT", f"/api/roles/{quote(name, safe='')}", {"sessions": list(sessions)})
    return Rendered(result, _role_line(result) if result["sessions"] else f"{name}: deleted")


def _role_line(role: dict[str, Any]) -> str:
    working = " ".join(role["working"]) or "-"
    return f"{role['role']}: {' '.join(role['sessions'])} (working: {working})"
