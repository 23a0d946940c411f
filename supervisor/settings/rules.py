"""What every section shares: the error a broken rule raises, and the patterns of names."""

from __future__ import annotations

import re

__all__ = ["BASE_URL", "EVENT_PATTERN", "SESSION_ID_RE", "InvalidValue", "require"]

#: Session ids (and role names).
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: An event name or family pattern: ``session.status``, ``session.*``, ``*``.
EVENT_PATTERN = re.compile(r"\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")
#: ``[roles] base_url``: written unquoted into a dotenv file, so only plain URL characters.
BASE_URL = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?")


class InvalidValue(ValueError):
    """A key of a section breaks its rule."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(f"{key} {rule}")
        self.key = key
        self.rule = rule


def require(ok: bool, key: str, rule: str) -> None:
    """Raise InvalidValue(key, rule) unless ``ok``."""
    if not ok:
        raise InvalidValue(key, rule)
