"""Every command of the ``zapvisor`` CLI takes ``--json`` (scripts) and ``--config`` (people type
it after the command), but ``completion``, which prints a shell script."""

from __future__ import annotations

import click

from supervisor.cli.main import cli


def _leaves(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_leaves(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


def _options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def test_every_command_takes_json_and_config() -> None:
    commands = _leaves(cli)
    assert {"events", "doctor", "webhooks list", "webhooks retry", "webhooks show", "serve",
            "start", "qr", "completion"} <= set(commands)
    lacking = {name: sorted({"--json", "--config"} - _options(command))
               for name, command in commands.items() if name != "completion"}
    assert {name: missing for name, missing in lacking.items() if missing} == {}


def test_version_and_config_on_the_group() -> None:
    assert {"--version", "--config"} <= _options(cli)
