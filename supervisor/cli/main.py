"""The ``zapvisor`` command: ``serve`` runs the daemon; every other command is a thin client
of its HTTP API (tables for people, ``--json`` for scripts), but ``doctor`` (checks the host)
and ``completion`` (prints a shell's completion script)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import click
from click.shell_completion import get_completion_class

from supervisor.cli import doctor, events, queue, sessions, whatsapp
from supervisor.cli.cluster import cluster, node
from supervisor.cli.common import config_option, load_cli_config
from supervisor.cli.webhooks import webhooks
from supervisor.errors import ZapvisorError
from supervisor.logs import configure
from supervisor.version import version

__all__ = ["main", "cli"]

_PROG = "zapvisor"
_COMPLETE_VAR = "_ZAPVISOR_COMPLETE"  # click's name for it: _<PROG>_COMPLETE
_DEBUG_ENV = "ZAPVISOR_DEBUG"  # set: an unexpected error shows its traceback


def _version() -> str:
    found = version()
    return found if found != "0" else "unknown (not installed)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar="ZAPVISOR_CONFIG",
              help="config.toml (default: ./config.toml, then /etc/zapvisor/config.toml)")
@click.version_option(_version(), "--version", "-V", prog_name=_PROG, message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Run many WhatsApp Web sessions: one worker and one headless Chrome per session.

    Shell completion: `zapvisor completion bash` (or zsh, fish) prints the script, e.g.
    `eval "$(zapvisor completion bash)"` in ~/.bashrc."""
    ctx.obj = {"config_path": config_path}


@cli.command()
@config_option
@click.option("--host", help="listen address (overrides [server] host)")
@click.option("--port", type=int, help="listen port (overrides [server] port)")
@click.option("--state-dir", help="state directory (overrides [state] dir)")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--json", "as_json", is_flag=True, help='log JSON lines (as [logging] format = "json")')
@click.pass_context
def serve(ctx: click.Context, command_config: str | None, host: str | None, port: int | None,
          state_dir: str | None, log_level: str | None, as_json: bool) -> None:
    """Run the daemon in the foreground (as systemd does)."""
    from supervisor.daemon import serve as serve_daemon

    cfg = load_cli_config(ctx, command_config)
    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if server:
        cfg = cfg.replace("server", **server)
    if state_dir:
        cfg = cfg.replace("state", dir=os.path.abspath(state_dir))
    if log_level:
        cfg = cfg.replace("logging", level=log_level)
    if as_json:
        cfg = cfg.replace("logging", format="json")
    configure(cfg.logging.level, cfg.logging.format)
    asyncio.run(serve_daemon(cfg))


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print SHELL's completion script for zapvisor: add `eval "$(zapvisor completion bash)"`
    to ~/.bashrc (zsh: ~/.zshrc; fish: `zapvisor completion fish | source` in config.fish).
    The same as `_ZAPVISOR_COMPLETE=bash_source zapvisor`."""
    completer = get_completion_class(shell)
    assert completer is not None  # click ships these three
    click.echo(completer(cli, {}, _PROG, _COMPLETE_VAR).source())


for command in (*sessions.COMMANDS, *whatsapp.COMMANDS, *queue.COMMANDS, *events.COMMANDS,
                *doctor.COMMANDS, webhooks, cluster, node):
    cli.add_command(command)


def _fail(message: str, error_type: str, status: int, as_json: bool) -> None:
    """One line on stderr (a JSON object with --json), then exit ``status``."""
    if as_json:
        click.echo(json.dumps({"error": {"type": error_type, "message": message}}), err=True)
    else:
        click.echo(f"zapvisor: error: {message}", err=True)
    sys.exit(status)


def _quiet_broken_pipe() -> None:
    """The reader of our output left (`zapvisor events | head`): end without a word, and
    without Python's complaint when it flushes stdout on the way out."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(141)  # 128 + SIGPIPE, what a shell reports for such a pipeline


def main() -> None:
    """Entry point: errors become one line on stderr and a non-zero status, never a traceback."""
    args = sys.argv[1:]
    as_json = "--json" in (args[:args.index("--")] if "--" in args else args)
    try:
        cli.main(args=args, prog_name=_PROG, complete_var=_COMPLETE_VAR, standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            sys.exit(130)  # Ctrl-C: the shell's usual status, no message
        _fail("aborted", "Aborted", 1, as_json)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(exc.format_message() + hint, "UsageError", exc.exit_code, as_json)
    except click.ClickException as exc:
        _fail(exc.format_message(), type(exc).__name__, exc.exit_code, as_json)
    except ZapvisorError as exc:
        _fail(exc.message, exc.type, 1, as_json)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except OSError as exc:  # a file named on the command line that cannot be read, ...
        _fail(str(exc), type(exc).__name__, 1, as_json)
    except Exception as exc:
        if os.environ.get(_DEBUG_ENV):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (a bug: {_DEBUG_ENV}=1 shows where)",
              "InternalError", 1, as_json)
