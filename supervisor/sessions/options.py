"""Per-session options: the fields a create or update request may carry besides the record's
own (``metadata``), stored together in the session's ``options`` (JSON).

One table, :data:`OPTIONS`: each field says how a request's value becomes the stored one
(InvalidRequest on bad input; None removes it), how it is shown in a session object, and whether
a running session restarts to apply it. A new option is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.sessions import proxy

__all__ = ["OPTIONS", "Option", "changed_restarting", "fields", "merged", "parse_changes", "shown"]


@dataclass(frozen=True)
class Option:
    """One per-session option."""

    parse: Callable[[Any], Any]  # a request's value -> the stored one; None: remove it
    show: Callable[[Any], Any]  # the stored value -> what a session object shows (no secrets)
    restarts: bool  # a running session restarts (same profile) to apply a change


OPTIONS: Mapping[str, Option] = {
    "proxy": Option(parse=proxy.proxy_option, show=proxy.masked, restarts=True),
}


def fields() -> dict[str, type]:
    """The options as request fields for ``check_fields``: any JSON type (each option's own
    parse checks its value without repeating it: a proxy URL may hold a password)."""
    return {name: object for name in OPTIONS}


def parse_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The options ``body`` sets, parsed (None: removed); InvalidRequest for a bad one."""
    return {name: option.parse(body[name]) for name, option in OPTIONS.items() if name in body}


def merged(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` options with ``changes`` applied (a None removes the option). Keys that are
    not in the table (a newer zapvisor's) are kept as they are."""
    result = dict(current)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def changed_restarting(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The options whose change needs a running session restarted, in table order."""
    return [name for name, option in OPTIONS.items()
            if option.restarts and before.get(name) != after.get(name)]


def shown(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of the table as a session object shows it (None when unset)."""
    return {name: option.show(options[name]) if name in options else None
            for name, option in OPTIONS.items()}

