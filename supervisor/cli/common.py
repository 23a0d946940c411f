"""What every client command of the ``zapvisor`` CLI shares: the config (``--config`` on the
group or on the command, the command's winning), the connection options, the API key (and,
when the daemon refuses it, where it came from or where none was found), and how a result is
printed (``output`` for people, ``--json`` for scripts)."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from supervisor import config as config_mod
from supervisor.apikey import generated_key_path, load_api_key, usable_key
from supervisor.cli.client import Client
from supervisor.cli.output import print_human
from supervisor.errors import ConfigError, ZapvisorError

__all__ = ["API_KEY_ENV", "Commands", "client_command", "config_option", "load_cli_config",
           "print_json"]

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


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--config PATH`` on a command too (``zapvisor serve --config x``, as people type it);
    it wins over the group's ``zapvisor --config x serve``."""
    return click.option("--config", "command_config", metavar="PATH",
                        help="config.toml (overrides `zapvisor --config`)")(func)


def load_cli_config(ctx: click.Context, command_config: str | None = None) -> config_mod.Config:
    """The config the CLI reads: the command's ``--config``, the group's (or
    ``ZAPVISOR_CONFIG``), else the default places."""
    path = command_config or (ctx.obj or {}).get("config_path")
    return config_mod.load(config_mod.find_config_file(path))


def print_json(value: Any) -> None:
    """One result for scripts."""
    click.echo(json.dumps(value, indent=2))


def _checked(key: str, where: str) -> str:
    """``key`` if it can travel in a header; else ConfigError naming ``where`` (never the key:
    a wrong file given by mistake may hold another secret)."""
    if not key:
        raise ConfigError(f"{where} is empty")
    if not usable_key(key):
        raise ConfigError(f"{where} does not hold an API key (printable ASCII, no spaces, one line)")
    return key


def _read_key_file(path: str) -> str:
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--api-key-file {path}: cannot read it ({exc})") from None
    return _checked(key, f"--api-key-file {path}")


def _config_key_source(cfg: config_mod.Config) -> str:
    if cfg.server.api_key:
        return f"the key sent came from [server] api_key in {cfg.source}"
    if cfg.server.api_key_file:
        return f"the key sent came from [server] api_key_file in {cfg.source}"
    return f"the key sent came from the generated key file {generated_key_path(cfg)}"


def _no_key_found(cfg: config_mod.Config, problem: ZapvisorError) -> str:
    """Where the CLI looked for a key and found none, for the daemon's 401."""
    if cfg.source == "defaults":
        looked = " or ".join(str(p.absolute()) for p in config_mod.DEFAULT_PATHS)
        where = f"no config file ({looked} not found; give --config PATH or ZAPVISOR_CONFIG)"
    else:
        where = f"the config {cfg.source} names no key"
    generated = generated_key_path(cfg)
    if cfg.server.api_key_file:
        detail = problem.message
    elif generated.exists():
        detail = f"the generated key {generated} is unreadable ({problem.message})"
    else:
        detail = f"no generated key at {generated}"
    return (f"no API key found: {where}, {API_KEY_ENV} is not set, {detail}; "
            f"use {API_KEY_ENV} or --api-key-file PATH")


def _api_key(cfg: config_mod.Config, flag: str | None, key_file: str | None) -> tuple[str | None, str]:
    """The key, from (first found) --api-key, --api-key-file, ZAPVISOR_API_KEY, the config;
    and where it came from (or where the CLI looked in vain), for a refusal's message."""
    if flag is not None:
        # Any local user can read a command line (/proc/<pid>/cmdline, ps): say so, every time.
        click.echo("zapvisor: warning: --api-key shows the key to every local user (ps, "
                   f"/proc/*/cmdline); use {API_KEY_ENV} or --api-key-file instead", err=True)
        return _checked(flag, "--api-key"), "the key sent came from --api-key"
    if key_file is not None:
        return _read_key_file(key_file), f"the key sent came from --api-key-file {key_file}"
    if os.environ.get(API_KEY_ENV):
        return _checked(os.environ[API_KEY_ENV], API_KEY_ENV), f"the key sent came from {API_KEY_ENV}"
    try:
        return load_api_key(cfg, create=False)[0], _config_key_source(cfg)
    except ZapvisorError as exc:
        return None, _no_key_found(cfg, exc)  # the daemon answers 401; this says why


def make_client(ctx: click.Context, command_config: str | None, url: str | None,
                api_key: str | None, key_file: str | None) -> Client:
    """The client a command talks through, from its options and the config."""
    cfg = load_cli_config(ctx, command_config)
    key, source = _api_key(cfg, api_key, key_file)
    return Client(url or cfg.server.local_url, key, key_source=source)


def client_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command ``--config``, the connection options, ``--json`` and a ``client``
    argument (and ``as_json`` if it takes one). What it returns is printed (None: nothing)."""
    wants_json = "as_json" in inspect.signature(func).parameters

    @config_option
    @click.option("--url", envvar="ZAPVISOR_URL", help="daemon URL (default from the config)")
    @click.option("--api-key-file", metavar="PATH", envvar="ZAPVISOR_API_KEY_FILE",
                  help="read the API key from this file")
    @click.option("--api-key", help=f"the API key: visible to every local user, prefer "
                                    f"{API_KEY_ENV} or --api-key-file (default: the config's)")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    @click.pass_context
    def wrapper(ctx: click.Context, command_config: str | None, url: str | None,
                api_key_file: str | None, api_key: str | None, as_json: bool, **kwargs: Any) -> None:
        client = make_client(ctx, command_config, url, api_key, api_key_file)
        if wants_json:
            kwargs["as_json"] = as_json
        result = func(client, **kwargs)
        if result is None:
            return
        if as_json:
            print_json(result)
        else:
            print_human(result)

    wrapper.__doc__ = func.__doc__
    wrapper.__name__ = func.__name__
    return wrapper
