"""The daemon's configuration: one frozen, typed object, loaded once and passed explicitly.

Sources, later ones winning: ``config.toml``, then the environment (``ZAPVISOR_<SECTION>__<KEY>``
variables such as ``ZAPVISOR_SERVER__PORT=9000``, and zapnode's names: see ``envvars``), then
command-line flags. Units are in the field names. An unknown section or key is an error that
names it and the file it came from.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor.envvars import ENV_PREFIX, env_overrides
from supervisor.errors import ConfigError
from supervisor.layout import StateLayout
from supervisor.settings import (
    ChromeConfig,
    ClusterConfig,
    EventsConfig,
    InvalidValue,
    LimitsConfig,
    LoggingConfig,
    MediaConfig,
    RolesConfig,
    SendingConfig,
    ServerConfig,
    SessionsConfig,
    SnapshotsConfig,
    StateConfig,
    WebhooksConfig,
    WhatsAppConfig,
)

__all__ = ["DEFAULT_PATHS", "ENV_PREFIX", "Config", "build_section", "find_config_file", "load"]

DEFAULT_PATHS = (Path("config.toml"), Path("/etc/zapvisor/config.toml"))


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``source`` names where it was read from, for messages."""

    server: ServerConfig = field(default_factory=ServerConfig)
    state: StateConfig = field(default_factory=StateConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    chrome: ChromeConfig = field(default_factory=ChromeConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    whatsapp: WhatsAppConfig = field(default_factory=WhatsAppConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    sending: SendingConfig = field(default_factory=SendingConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    roles: RolesConfig = field(default_factory=RolesConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    snapshots: SnapshotsConfig = field(default_factory=SnapshotsConfig)
    source: str = "defaults"
    base_dir: str = "."
    env_aliases: tuple[str, ...] = ()  # zapnode variables that set keys (for the log)

    @functools.cached_property
    def state_dir(self) -> Path:
        """The absolute state directory (relative paths are taken from the config's folder);
        resolved once (a listing of hundreds of sessions must not call realpath for each)."""
        return (Path(self.base_dir) / self.state.dir).resolve()

    @property
    def env_file(self) -> Path | None:
        """``[roles] env_file`` as an absolute path (relative to the config's folder), or None."""
        return (Path(self.base_dir) / self.roles.env_file).absolute() if self.roles.env_file else None

    @property
    def public_url(self) -> str:
        """Where clients reach the API: ``[roles] base_url``, else the local address."""
        return self.roles.base_url.rstrip("/") or self.server.local_url

    @functools.cached_property
    def layout(self) -> StateLayout:
        """Where each file of the state directory lives."""
        return StateLayout(self.state_dir)

    def replace(self, section: str, **values: Any) -> Config:
        """A copy with some keys of one section changed (validated like the file)."""
        current = dataclasses.asdict(getattr(self, section))
        current.update(values)
        built = build_section(section, current, "command line")
        return dataclasses.replace(self, **{section: built})


_SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config)
    if f.name not in ("source", "base_dir", "env_aliases")
}


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against the field type; accept ints for floats, lists for tuples."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(hint) is tuple and typing.get_args(hint)[0] == tuple[int, int]:
        if isinstance(value, (list, tuple)) and all(
                isinstance(v, (list, tuple)) and len(v) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) for n in v) for v in value):
            return tuple((int(a), int(b)) for a, b in value)
        raise ConfigError(f"{where} must be a list of [integer, integer] pairs, got {value!r}")
    if typing.get_origin(hint) is tuple:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where} must be of type {hint.__name__}, got {value!r}")


def build_section(name: str, values: Mapping[str, Any], source: str) -> Any:
    """Section ``name`` built from ``values`` and checked as the file's would be; ConfigError
    naming the key and ``source`` (also for per-session overrides of a section)."""
    cls = _SECTIONS[name]
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            known = ", ".join(sorted(hints))
            raise ConfigError(f"unknown key [{name}] {key} in {source} (known: {known})")
        kwargs[key] = _coerce(value, hints[key], f"[{name}] {key} in {source}")
    try:
        return cls(**kwargs)
    except InvalidValue as exc:
        raise ConfigError(f"[{name}] {exc.key} in {source} {exc.rule}") from None


def find_config_file(explicit: str | None) -> Path | None:
    """The file to read: the one given, else the first default that exists, else None."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    return next((p for p in DEFAULT_PATHS if p.is_file()), None)


def load(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (or only defaults when None), apply environment overrides, validate."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source = "defaults"
    base_dir = Path.cwd()
    if path is not None:
        source = str(path)
        base_dir = path.resolve().parent
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    for name, values in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"unknown section [{name}] in {source} (known: {', '.join(_SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] in {source} must be a table")
        sections[name] = build_section(name, values, source)
    aliases: list[str] = []
    for name, keys in env_overrides(env, _SECTIONS).items():
        current = dataclasses.asdict(sections.get(name, _SECTIONS[name]()))
        current.update({key: value for key, (value, _) in keys.items()})
        variables = sorted({variable for _, variable in keys.values()})
        aliases += [v for v in variables if not v.startswith(ENV_PREFIX)]
        sections[name] = build_section(name, current, f"the environment ({', '.join(variables)})")
    return Config(**sections, source=source, base_dir=str(base_dir), env_aliases=tuple(sorted(aliases)))
