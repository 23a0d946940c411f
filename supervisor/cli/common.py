"""What every client command of the ``zapvisor`` CLI shares: the config, the connection options,
and how a result is printed (a table or lines for people, ``--json`` for scripts)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from supervisor import config as config_mod
from supervisor.apikey import load_api_key
from supervisor.cli.client import Client
from supervisor.errors import ConfigError, ZapvisorError

__all__ = ["API_KEY_ENV", "Commands", "client_command", "load_cli_config", "print_human"]

#: Where the CLI looks for the API key before the config (a flag would show it in ps).
API_KEY_ENV = "ZAPVISOR_API_KEY"


class Commands(list[click.Command]):
    """A family of commands, gathered here and added to the group by ``supervisor.cli.main``."""

    def command(self, name: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
        """Decorator: make ``func`` a click command of this family."""

        def register(func: Callable[..., Any]) -> click.Command:
            command = click.command(name)(func)
            self.append(command)
            return command

        return register


def load_cli_config(path: str | None) -> config_mod.Config:
    """The config the CLI reads (``--config``, else the default places)."""
    return config_mod.load(config_mod.find_config_file(path))


def _read_key_file(path: str) -> str:
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--api-key-file {path}: cannot read it ({exc})") from None
    if not key:
        raise ConfigError(f"--api-key-file {path} is empty")
    return key


def _api_key(cfg: config_mod.Config, flag: str | None, key_file: str | None) -> str | None:
    """The key, from (first found) --api-key, --api-key-file, ZAPVISOR_API_KEY, the config."""
    if flag is not None:
        # Any local user can read a command line (/proc/<pid>/cmdline, ps): say so, every time.
        click.echo("zapvisor: warning: --api-key shows the key to every local user (ps, "
                   f"/proc/*/cmdline); use {API_KEY_ENV} or --api-key-file instead", err=True)
        return flag
    if key_file is not None:
        return _read_key_file(key_file)
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    try:
        return load_api_key(cfg, create=False)[0]
    except ZapvisorError:
        return None  # the daemon will answer 401 with a clear message


def _client(ctx: click.Context, url: str | None, api_key: str | None, key_file: str | None) -> Client:
    cfg = load_cli_config(ctx.obj["config_path"])
    if url is None:
        url = cfg.server.local_url
    return Client(url, _api_key(cfg, api_key, key_file))


def client_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the connection options and a ``client`` argument."""

    @click.option("--url", envvar="ZAPVISOR_URL", help="daemon URL (default from the config)")
    @click.option("--api-key-file", metavar="PATH", envvar="ZAPVISOR_API_KEY_FILE",
                  help="read the API key from this file")
    @click.option("--api-key", help=f"the API key: visible to every local user, prefer "
                                    f"{API_KEY_ENV} or --api-key-file (default: the config's)")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    @click.pass_context
    def wrapper(ctx: click.Context, url: str | None, api_key_file: str | None, api_key: str | None,
                as_json: bool, **kwargs: Any) -> None:
        result = func(_client(ctx, url, api_key, api_key_file), **kwargs)
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            print_human(result)

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


def print_human(result: Any) -> None:
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



def _print_stats(stats: dict[str, Any]) -> None:
    """``zapvisor status``: the daemon's totals, then one line per session."""
    print_human({k: v for k, v in stats.items() if k != "per_session"})
    rows = [["ID", "STATE", "MEMORY", "PROCS", "CPU", "UPTIME", "RESTARTS", "SENT", "RECEIVED"]]
    for s in stats["per_session"]:
        cpu = f"{s['cpu_percent']:.0f}%" if isinstance(s["cpu_percent"], (int, float)) else "-"
        rows.append([s["id"], s["state"], _mb(s["memory_bytes"]), str(s["processes"] or "-"), cpu,
                     _duration(s["uptime_s"]), str(s["restarts"]), str(s["messages_sent"]),
                     str(s["messages_received"])])
    click.echo("")
    click.echo(_table(rows))
