"""The environment's part of the configuration: ``ZAPVISOR_<SECTION>__<KEY>`` variables, and
zapnode's ``.env`` names accepted as aliases of zapvisor's keys, so that an existing ``.env``
(``EnvironmentFile=`` in a systemd unit, or ``set -a; . ./.env``) carries over.

An alias and the ``ZAPVISOR_*`` variable of the same key may both be set only if they agree;
otherwise the configuration is refused with both names. An alias set to the empty string counts
as unset (a ``.env`` template with blank values keeps zapvisor's defaults).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.errors import ConfigError

__all__ = ["ALIASES", "ENV_PREFIX", "Alias", "Found", "env_overrides", "parse_bool"]

ENV_PREFIX = "ZAPVISOR_"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_bool(raw: str, where: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off, any case), else ConfigError."""
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{where} must be true or false, got {raw!r}")


def parse_value(raw: str, hint: Any, where: str) -> Any:
    """A variable's text as a value of the key's type (tuples: words split on blanks)."""
    if hint is bool:
        return parse_bool(raw, where)
    if hint in (int, float):
        try:
            return hint(raw)
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {raw!r}") from None
    if typing.get_origin(hint) is tuple:
        return tuple(raw.split())
    return raw


def _headless(raw: str, where: str) -> object:
    # Puppeteer's headless: "new" / "shell" (zapnode passed HEADLESS straight to it).
    return True if raw.lower() in ("new", "shell") else parse_bool(raw, where)


def _webhook_enabled(raw: str, where: str) -> object:
    # zapvisor has no separate switch: false empties [webhooks] url, true changes nothing.
    return None if parse_bool(raw, where) else ""


@dataclass(frozen=True)
class Alias:
    """One zapnode variable and the key it sets. ``convert(raw, where)`` gives the value, or
    None for no effect; without it, the text is read as the key's type."""

    name: str
    section: str
    key: str
    convert: Callable[[str, str], object] | None = None


ALIASES: tuple[Alias, ...] = (
    Alias("PORT", "server", "port"),
    Alias("SESSION_NAME", "sessions", "default_session"),
    Alias("START_DEFAULT_SESSION", "sessions", "start_default_session"),
    Alias("AUTO_CLEANUP_ON_LOGOUT", "sessions", "auto_cleanup_on_logout"),
    Alias("CHROME_PATH", "chrome", "executable"),
    Alias("HEADLESS", "chrome", "headless", _headless),
    Alias("IGNORE_GROUPS", "whatsapp", "ignore_groups"),
    Alias("IGNORE_STATUS", "whatsapp", "ignore_status"),
    Alias("IGNORE_NEWSLETTERS", "whatsapp", "ignore_newsletters"),
    Alias("WEBHOOK_ENABLED", "webhooks", "url", _webhook_enabled),
)


Found = dict[str, dict[str, tuple[Any, str]]]  # section -> key -> (value, variable)


def _prefixed(env: Mapping[str, str], sections: Mapping[str, type]) -> Found:
    found: Found = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        where = f"environment variable {name}"
        if section not in sections:
            raise ConfigError(f"unknown section {section!r} in {where}")
        hints = typing.get_type_hints(sections[section])
        if key not in hints:
            raise ConfigError(f"unknown key [{section}] {key} in {where}")
        found.setdefault(section, {})[key] = (parse_value(raw, hints[key], where), name)
    return found


def _aliased(env: Mapping[str, str], sections: Mapping[str, type], prefixed: Found) -> Found:
    found: Found = {}
    for alias in ALIASES:
        raw = env.get(alias.name, "")
        if raw == "":
            continue
        where = f"environment variable {alias.name} (alias of [{alias.section}] {alias.key})"
        hint = typing.get_type_hints(sections[alias.section])[alias.key]
        value = alias.convert(raw, where) if alias.convert else parse_value(raw, hint, where)
        if value is None:
            continue
        given = prefixed.get(alias.section, {}).get(alias.key)
        if given is not None and given[0] != value:
            raise ConfigError(
                f"environment variables {alias.name}={raw!r} and {given[1]}={env[given[1]]!r} "
                f"disagree on [{alias.section}] {alias.key}: unset one of them")
        found.setdefault(alias.section, {})[alias.key] = (value, alias.name)
    return found


def env_overrides(env: Mapping[str, str], sections: Mapping[str, type]) -> Found:
    """The keys the environment sets: section -> key -> (value, the variable that set it)."""
    prefixed = _prefixed(env, sections)
    merged = _aliased(env, sections, prefixed)
    for section, keys in prefixed.items():  # where both agree, name the ZAPVISOR_* variable
        merged.setdefault(section, {}).update(keys)
    return merged
