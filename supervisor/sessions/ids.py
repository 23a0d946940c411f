"""Session ids: which are valid (supervisor.settings.SESSION_ID_RE), checked on every request."""

from __future__ import annotations

from supervisor.errors import InvalidRequest
from supervisor.settings import SESSION_ID_RE

__all__ = ["SESSION_ID_RE", "validate_session_id"]


def validate_session_id(value: object) -> str:
    """Return ``value`` if it is a valid session id, else raise InvalidRequest."""
    if not isinstance(value, str) or not SESSION_ID_RE.fullmatch(value):
        raise InvalidRequest(
            f"invalid session id {value!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return value
