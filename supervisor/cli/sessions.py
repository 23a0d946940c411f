"""Session lifecycle commands of the ``zapvisor`` CLI: ``list``, ``create``, ``set``, ``start``,
``stop``, ``restart``, ``delete``, ``status``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from supervisor.cli.client import Client
from supervisor.cli.common import Commands, client_command
from supervisor.cli.output import Rendered
from supervisor.cli.whatsapp import wait_logged_in, why_not_running
from supervisor.errors import Conflict, NotFound

__all__ = ["COMMANDS"]

COMMANDS = Commands()


@COMMANDS.command("list")
@client_command
def list_(client: Client) -> Any:
    """List sessions: state, pids, memory, uptime, restarts."""
    return client.get("/api/sessions")


def _metadata(text: str, option: str = "--metadata") -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=option) from None


def _proxy(url: str | None, url_file: str | None) -> str | None:
    """The proxy URL of ``--proxy`` or ``--proxy-file`` (a file keeps a password out of ps)."""
    if url is not None and url_file is not None:
        raise click.UsageError("give --proxy or --proxy-file, not both")
    if url_file is None:
        if url is not None and "@" in url:  # a command line is readable by every local user
            click.echo("zapvisor: warning: --proxy shows the proxy's password to every local user "
                       "(ps, /proc/*/cmdline); use --proxy-file instead", err=True)
        return url
    try:
        return Path(url_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read it ({exc})", param_hint="--proxy-file") from None


def _proxy_options(func: Any) -> Any:
    func = click.option("--proxy-file", metavar="PATH",
                        help="read the proxy URL from this file (keeps its password out of ps)")(func)
    return click.option("--proxy", metavar="URL", help="the session's proxy: "
                        "http://, https://, socks5://[user:password@]host:port")(func)


@COMMANDS.command()
@click.argument("session_id")
@click.option("--no-start", is_flag=True, help="create it stopped")
@click.option("--metadata", help="JSON object kept with the session")
@_proxy_options
@click.option("--wait", is_flag=True, help="show the QR code as it changes; return once WORKING")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="seconds for --wait")
@client_command
def create(client: Client, session_id: str, no_start: bool, metadata: str | None, proxy: str | None,
           proxy_file: str | None, wait: bool, timeout: float) -> Any:
    """Create a session (and start it)."""
    if wait and no_start:
        raise click.UsageError("--wait needs the session started (drop --no-start)")
    body: dict[str, Any] = {"id": session_id, "start": not no_start}
    if metadata:
        body["metadata"] = _metadata(metadata)
    url = _proxy(proxy, proxy_file)
    if url:
        body["proxy"] = url
    try:
        created = client.post("/api/sessions", body)
    except Conflict as exc:
        raise _exists(client, session_id, exc) from None
    if wait:
        return wait_logged_in(client, session_id, timeout)
    return created


@COMMANDS.command("set")
@click.argument("session_id")
@_proxy_options
@click.option("--no-proxy", is_flag=True, help="remove the session's proxy")
@click.option("--metadata", help="JSON object that replaces the session's metadata")
@click.option("--sending", help='JSON object of the session\'s own [sending] keys, e.g. \'{"per_hour": 40}\' '
                                "({} for the config's)")
@client_command
def set_(client: Client, session_id: str, proxy: str | None, proxy_file: str | None, no_proxy: bool,
         metadata: str | None, sending: str | None) -> Any:
    """Change a session: its proxy (a running session restarts, keeping its login), its sending
    limits and pacing, its metadata."""
    body: dict[str, Any] = {}
    url = _proxy(proxy, proxy_file)
    if no_proxy and url is not None:
        raise click.UsageError("give --proxy/--proxy-file or --no-proxy, not both")
    if url is not None or no_proxy:
        body["proxy"] = None if no_proxy else url
    if metadata:
        body["metadata"] = _metadata(metadata)
    if sending:
        body["sending"] = _metadata(sending, "--sending")
    if not body:
        raise click.UsageError("nothing to change: give --proxy, --proxy-file, --no-proxy, --sending "
                               "or --metadata")
    return client.patch(f"/api/sessions/{session_id}", body)


def _exists(client: Client, session_id: str, refused: Conflict) -> Conflict:
    """A create refused because the session exists: say how to start it, in CLI terms."""
    try:
        state = client.get(f"/api/sessions/{quote(session_id, safe='')}/status")["state"]
    except NotFound:
        return refused  # deleted meanwhile: the daemon's words stand
    if state in ("STOPPED", "FAILED"):
        return Conflict(f"session {session_id!r} already exists and is {state}: start it with "
                        f"`zapvisor start {session_id} --wait` (shows the QR code if it needs one)")
    return Conflict(f"session {session_id!r} already exists and is {state}")


def _lifecycle(name: str, doc: str) -> None:
    @click.argument("session_id")
    @client_command
    def command(client: Client, session_id: str) -> Any:
        return client.post(f"/api/sessions/{session_id}/{name}")

    command.__doc__ = doc
    COMMANDS.command(name)(command)


@COMMANDS.command()
@click.argument("session_id")
@click.option("--wait", is_flag=True, help="show the QR code as it changes; return once WORKING")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="seconds for --wait")
@client_command
def start(client: Client, session_id: str, wait: bool, timeout: float) -> Any:
    """Start a stopped or failed session."""
    try:
        started = client.post(f"/api/sessions/{quote(session_id, safe='')}/start")
    except Conflict:
        # Already on its way (or WORKING): with --wait, that is what we wait for anyway.
        if not wait or client.get(f"/api/sessions/{quote(session_id, safe='')}/status")["state"] \
                not in ("STARTING", "SCAN_QR_CODE", "WORKING"):
            raise
    if wait:
        return wait_logged_in(client, session_id, timeout)
    return started


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
    if not session_id:
        return client.get("/api/stats")
    status = client.get(f"/api/sessions/{quote(session_id, safe='')}/status")
    state = status["state"]
    why = why_not_running(status) if state in ("STOPPED", "FAILED") else status.get("detail")
    lines = {"state": f"{state} ({why})" if why and why != "-" else state,
             "since": status["since"], "phone_number": status["phone_number"],
             "qr_available": "yes" if status["qr_available"] else "no", "restarts": status["restarts"],
             "last_exit": status.get("last_exit"), "last_error": status["last_error"]}
    width = max(map(len, lines))
    text = "\n".join(f"{k.ljust(width)}  {'-' if v is None else v}" for k, v in lines.items())
    return Rendered(status, f"{session_id}\n{text}")
