"""``zapvisor doctor``: checks what this host needs (``supervisor.doctor``) and prints one line
per check, ok, warn or fail, with what to do; exit status 1 when one fails."""

from __future__ import annotations

import click

from supervisor.cli.common import Commands, config_option, load_cli_config, print_json
from supervisor.errors import ConfigError

__all__ = ["COMMANDS"]

COMMANDS = Commands()


@COMMANDS.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of lines")
@click.pass_context
def doctor(ctx: click.Context, command_config: str | None, as_json: bool) -> None:
    """Check what this host needs to run zapvisor (Chrome, the state directory, the port, the
    API key, cgroups, Python) and say what to fix. Exit status 1 if something fails."""
    # Below the CLI's layer, like `serve`'s daemon: loaded only by the command that needs it.
    from supervisor.doctor import config_failed, run_checks

    try:
        checks = run_checks(load_cli_config(ctx, command_config))
    except ConfigError as exc:
        checks = config_failed(exc.message)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        print_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            fix = f"; fix: {c.fix}" if c.fix and c.status != "ok" else ""
            click.echo(f"{c.status:<4}  {c.name.ljust(width)}  {c.message}{fix}")
    if failed:
        raise SystemExit(1)
