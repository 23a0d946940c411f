"""The ``zapvisor`` command: ``serve`` runs the daemon; every other command is a thin client
of its HTTP API (tables for people, ``--json`` for scripts)."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from supervisor.cli import queue, sessions, whatsapp
from supervisor.cli.common import load_cli_config
from supervisor.errors import ZapvisorError
from supervisor.logs import configure

__all__ = ["main", "cli"]


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

    cfg = load_cli_config(ctx.obj["config_path"])
    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if server:
        cfg = cfg.replace("server", **server)
    if state_dir:
        cfg = cfg.replace("state", dir=os.path.abspath(state_dir))
    if log_level:
        cfg = cfg.replace("logging", level=log_level)
    configure(cfg.logging.level, cfg.logging.format)
    asyncio.run(serve_daemon(cfg))


for command in (*sessions.COMMANDS, *whatsapp.COMMANDS, *queue.COMMANDS):
    cli.add_command(command)


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
