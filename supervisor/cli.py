"""The ``zapvisor`` command: ``serve`` runs the daemon; every other command is a thin client
of its HTTP API (tables for people, ``--json`` for scripts)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from supervisor import config as config_mod
from supervisor.auth import load_api_key
from supervisor.client import Client
from supervisor.errors import ZapvisorError
from supervisor.logs import configure

__all__ = ["main", "cli"]


def _load_config(path: str | None) -> config_mod.Config:
    return config_mod.load(config_mod.find_config_file(path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar="ZAPVISOR_CONFIG",
              help="config.toml (default: ./config.toml, then /etc/zapvisor/config.toml)")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Run many WhatsApp Web sessions: one worker and one headless Chrome per session."""
    ctx.obj = {"config_path": config_path}


@cli.command()
@click.option("--host", help="listen address (overrides [server] host)")
@click.option("--port", type=int, help="listen port (overrides [server] port)")
@click.option("--state-dir", help="state directory (overrides [state] dir)")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, state_dir: str | None,
          log_level: str | None) -> None:
    """Run the daemon in the foreground (as systemd does)."""
    from supervisor.daemon import serve as serve_daemon

    cfg = _load_config(ctx.obj["config_path"])
    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if server:
        cfg = cfg.replace("server", **server)
    if state_dir:
        cfg = cfg.replace("state", dir=os.path.abspath(state_dir))
    if log_level:
        cfg = cfg.replace("logging", level=log_level)
    configure(cfg.logging.level, cfg.logging.format)
    asyncio.run(serve_daemon(cfg))


def _client(ctx: click.Context, url: str | None, api_key: str | None) -> Client:
    cfg = _load_config(ctx.obj["config_path"])
    if url is None:
        host = cfg.server.host if cfg.server.host not in ("0.0.0.0", "::") else "127.0.0.1"
        url = f"http://{host}:{cfg.server.port}"
    if api_key is None:
        try:
            api_key, _ = load_api_key(cfg, create=False)
        except ZapvisorError:
            api_key = None  # the daemon will answer 401 with a clear message
    return Client(url, api_key)


def client_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the connection options and a ``client`` argument."""

    @click.option("--url", envvar="ZAPVISOR_URL", help="daemon URL (default from the config)")
    @click.option("--api-key", envvar="ZAPVISOR_API_KEY", help="API key (default from the config)")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    @click.pass_context
    def wrapper(ctx: click.Context, url: str | None, api_key: str | None, as_json: bool,
                **kwargs: Any) -> None:
        result = func(_client(ctx, url, api_key), **kwargs)
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            _print_human(result)

    wrapper.__doc__ = func.__doc__
    wrapper.__name__ = func.__name__
    return wrapper


def _mb(value: Any) -> str:
    return f"{value / 1048576:.0f} MB" if isinstance(value, (int, float)) else "-"


def _duration(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    seconds = int(value)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _print_human(result: Any) -> None:
    if hasattr(result, "human"):  # a result with its own look (a QR code drawn in blocks)
        click.echo(result.human())
    elif isinstance(result, dict) and "sessions" in result and isinstance(result["sessions"], list):
        rows = [["ID", "STATE", "WORKER", "CHROME", "MEMORY", "UPTIME", "RESTARTS", "LAST ERROR"]]
        for s in result["sessions"]:
            rows.append([s["id"], s["state"], str(s["worker_pid"] or "-"),
                         str(s["chrome_pid"] or "-"), _mb(s["memory_bytes"]),
                         _duration(s["uptime_s"]), str(s["restarts"]),
                         (s["last_error"] or "")[:60]])
        click.echo(_table(rows))
    elif isinstance(result, dict) and isinstance(result.get("per_session"), list):
        _print_stats(result)
    elif isinstance(result, dict):
        width = max((len(k) for k in result), default=0)
        for key, value in result.items():
            shown = json.dumps(value) if isinstance(value, (dict, list)) else value
            click.echo(f"{key.ljust(width)}  {'-' if value is None else shown}")
    else:
        click.echo(result)


@cli.command("list")
@client_command
def list_(client: Client) -> Any:
    """List sessions: state, pids, memory, uptime, restarts."""
    return client.get("/api/sessions")


@cli.command()
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
        from supervisor.cli_whatsapp import wait_logged_in  # that module imports this one

        return wait_logged_in(client, session_id, timeout)
    return created


def _lifecycle(name: str, doc: str) -> None:
    @click.argument("session_id")
    @client_command
    def command(client: Client, session_id: str) -> Any:
        return client.post(f"/api/sessions/{session_id}/{name}")

    command.__doc__ = doc
    cli.command(name)(command)


_lifecycle("start", "Start a stopped or failed session.")
_lifecycle("stop", "Stop a session (it stays stopped across daemon restarts).")
_lifecycle("restart", "Restart a session on the same profile.")


@cli.command()
@click.argument("session_id")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@client_command
def delete(client: Client, session_id: str, yes: bool) -> Any:
    """Stop a session and delete its profile and record."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete session {session_id!r} and its WhatsApp login?", abort=True)
    return client.delete(f"/api/sessions/{session_id}")


def _print_stats(stats: dict[str, Any]) -> None:
    """``zapvisor status``: the daemon's totals, then one line per session."""
    _print_human({k: v for k, v in stats.items() if k != "per_session"})
    rows = [["ID", "STATE", "MEMORY", "PROCS", "CPU", "UPTIME", "RESTARTS", "SENT", "RECEIVED"]]
    for s in stats["per_session"]:
        cpu = f"{s['cpu_percent']:.0f}%" if isinstance(s["cpu_percent"], (int, float)) else "-"
        rows.append([s["id"], s["state"], _mb(s["memory_bytes"]), str(s["processes"] or "-"), cpu,
                     _duration(s["uptime_s"]), str(s["restarts"]), str(s["messages_sent"]),
                     str(s["messages_received"])])
    click.echo("")
    click.echo(_table(rows))


@cli.command()
@click.argument("session_id", required=False)
@client_command
def status(client: Client, session_id: str | None) -> Any:
    """Status of one session, or the daemon's totals."""
    if session_id:
        return client.get(f"/api/sessions/{session_id}/status")
    return client.get("/api/stats")


def main() -> None:
    """Entry point: errors become one line on stderr and exit status 1, never a traceback."""
    try:
        cli.main(prog_name="zapvisor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ZapvisorError as exc:
        click.echo(f"zapvisor: error: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


# Registers qr, send, pairing-code, logout, roles, role on the group above.
import supervisor.cli_whatsapp  # noqa: E402,F401
