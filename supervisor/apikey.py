"""The API key: configured, read from a file, or generated once into the state directory."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from supervisor.config import Config
from supervisor.errors import ConfigError

__all__ = ["describe_key", "load_api_key", "key_matches", "generated_key_path", "usable_key"]


def generated_key_path(config: Config) -> Path:
    """Where a generated key is kept (0600)."""
    return config.layout.api_key


def describe_key(config: Config) -> str:
    """Where the API key is, for people (never the key itself)."""
    if config.server.api_key:
        return f"[server] api_key in {config.source}"
    if config.server.api_key_file:
        return f"{Path(config.base_dir) / config.server.api_key_file} ([server] api_key_file)"
    path = generated_key_path(config)
    made = "" if path.exists() else ", written at the daemon's first start"
    return f"{path} (0600{made}): KEY=$(cat {path})"


def load_api_key(config: Config, create: bool) -> tuple[str, bool]:
    """The key the API requires, and whether it was generated just now.

    Order: ``[server] api_key``, then ``[server] api_key_file``, then the generated file
    under the state directory (created when ``create`` is true and it does not exist).
    """
    if config.server.api_key:
        return config.server.api_key, False
    if config.server.api_key_file:
        path = Path(config.base_dir) / config.server.api_key_file
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"[server] api_key_file in {config.source}: cannot read {path}: "
                              f"{exc.strerror}") from None
        if not key:
            raise ConfigError(f"[server] api_key_file in {config.source}: {path} is empty")
        if not usable_key(key):
            raise ConfigError(f"[server] api_key_file in {config.source}: the key in {path} must be "
                              "printable ASCII without spaces (it travels in an HTTP header)")
        return key, False
    path = generated_key_path(config)
    if path.exists() or not create:
        try:
            return path.read_text(encoding="utf-8").strip(), False
        except OSError as exc:
            raise ConfigError(f"cannot read the generated API key {path}: {exc.strerror}") from None
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key, True


def key_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison. A key is printable ASCII (see :func:`usable_key`): anything else
    given, such as header bytes that are not UTF-8 (which aiohttp hands over as surrogates), is
    simply a wrong key."""
    if not given or not given.isascii():
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("ascii"))


def usable_key(key: str) -> bool:
    """True if ``key`` can be sent in an HTTP header: printable ASCII, no space."""
    return key.isascii() and key.isprintable() and " " not in key
