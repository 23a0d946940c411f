"""JSON from clients, held to what JSON is and to what zapvisor can store and send back.

Python's ``json`` accepts more than JSON: ``NaN`` and ``Infinity`` (which it then writes back
as invalid JSON), nesting deep enough to raise RecursionError (in parsing, or later when the
value is written out), and strings with lone UTF-16 surrogates (``"\\ud800"``), which neither
SQLite nor UTF-8 can take. :func:`loads` refuses all of these with a ValueError that says why;
:func:`metadata_problem` adds the limits of a session's ``metadata``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_BODY_DEPTH", "MAX_METADATA_BYTES", "MAX_METADATA_DEPTH", "loads",
           "metadata_problem"]

#: Nesting any request body may have (the deepest route needs 3).
MAX_BODY_DEPTH = 32
#: A session's ``metadata``: nesting (the object itself is level 1) and size as compact JSON.
MAX_METADATA_DEPTH = 8
MAX_METADATA_BYTES = 16 * 1024


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (only finite numbers are)")


def _check(value: Any, depth: int, max_depth: int) -> int:
    """The depth of ``value`` (a scalar is 0); ValueError beyond ``max_depth`` or for a string
    that is not valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
        return 0
    if not isinstance(value, (dict, list)):
        return 0
    if depth >= max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    items = value.items() if isinstance(value, dict) else enumerate(value)
    deepest = 0
    for key, item in items:
        if isinstance(key, str):
            _check(key, depth + 1, max_depth)
        deepest = max(deepest, _check(item, depth + 1, max_depth))
    return deepest + 1


def loads(raw: bytes | str, max_depth: int = MAX_BODY_DEPTH) -> Any:
    """Parse JSON, strictly (see the module docstring); ValueError says what is wrong."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc.reason}") from None
    _check(value, 0, max_depth)
    return value


def metadata_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a session's metadata, or None if it can."""
    if not isinstance(value, dict):
        return "must be a JSON object"
    try:
        depth = _check(value, 0, MAX_METADATA_DEPTH)
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8"))
    except ValueError as exc:
        return str(exc)
    if depth > MAX_METADATA_DEPTH:
        return f"nested deeper than {MAX_METADATA_DEPTH} levels"
    if size > MAX_METADATA_BYTES:
        return f"is {size} bytes as JSON, more than {MAX_METADATA_BYTES}"
    return None
