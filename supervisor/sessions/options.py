"""Per-session options: the fields a create or update request may carry besides the record's
own (``metadata``), stored together in the session's ``options`` (JSON).

One table, :data:`OPTIONS`: each field says how a request's value becomes the stored one
(InvalidRequest on bad input; None removes the option), its JSON Schema in the API's requests
(supervisor/api/spec.py checks it first), how that is checked against the daemon's
config, how it is shown in a session object, and whether a running session restarts to apply it.
A new option is one entry here.

- ``proxy``: a URL (supervisor.sessions.proxy); a running session restarts on its profile.
- ``sending``: the session's own ``[sending]`` keys (limits and pacing, which the send queue reads
  at each send: no restart); they replace the session's previous ones, ``{}`` or null removes them.
- ``node_tags``: in a cluster, the tags a node must have to run it (cluster/placement.py): read
  where it is placed (create) or taken over (failover, drain); no restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supervisor.config import Config
from supervisor.errors import InvalidRequest
from supervisor.sending.policy import sending_policy
from supervisor.sessions import proxy
from supervisor.settings import SESSION_ID_RE

__all__ = ["OPTIONS", "Option", "changed_restarting", "check", "merged", "node_tags", "parse_changes",
           "shown"]

_MAX_TAGS = 16


@dataclass(frozen=True)
class Option:
    """One per-session option."""

    parse: Callable[[Any], Any]  # a request's value -> the change; None: remove the option
    show: Callable[[Any], Any]  # the stored value -> what a session object shows (no secrets)
    restarts: bool  # a running session restarts (same profile) to apply a change
    check: Callable[[Any, Config], None] | None = None  # the stored value, against the config
    schema: Mapping[str, Any] = field(default_factory=dict)  # the request field's JSON Schema (API)


def _sending(value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest('sending must be an object of [sending] keys, e.g. {"per_minute": 2} '
                             "({} or null: the config's for every key)")
    return dict(value) if value else None


def node_tags(value: Any) -> list[str] | None:
    """A ``node_tags`` value: a list of tag names (a cluster node's, ``node tag``), sorted and
    without repeats; None for none."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > _MAX_TAGS or not all(
            isinstance(t, str) and SESSION_ID_RE.fullmatch(t) for t in value):
        raise InvalidRequest(f"node_tags must be a list of at most {_MAX_TAGS} tags, each 1-64 letters, "
                             f"digits, '_' or '-' starting with a letter or digit; got {value!r}")
    return sorted(set(value)) or None


def _sending_check(value: dict[str, Any], config: Config) -> None:
    sending_policy(config.sending, value, "this session's sending")  # InvalidRequest naming the key


OPTIONS: Mapping[str, Option] = {
    "proxy": Option(parse=proxy.proxy_option, show=proxy.masked, restarts=True, schema={
        "type": ["string", "null"], "writeOnly": True,  # it may hold a password: never echoed
        "examples": ["http://user:password@proxy.example:3128"],
        "description": "http://, https:// or socks5:// URL (user:password@ allowed); null or \"\" "
                       "removes it"}),
    "sending": Option(parse=_sending, show=lambda value: value, restarts=False, check=_sending_check,
                      schema={"type": ["object", "null"], "description": "this session's own "
                              "[sending] keys, e.g. {\"per_minute\": 2}; {} or null: the config's"}),
    "node_tags": Option(parse=node_tags, show=lambda value: value, restarts=False, schema={
        "type": ["array", "null"], "items": {"type": "string", "pattern": SESSION_ID_RE.pattern},
        "maxItems": _MAX_TAGS, "examples": [["br", "sales"]],
        "description": "in a cluster: run only on nodes that have every one of these tags "
                       "(zapvisor node tag); applies where the session is placed or taken over"}),
}


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


def check(options: Mapping[str, Any], config: Config) -> None:
    """InvalidRequest if a stored value of ``options`` does not hold with ``config``."""
    for name, option in OPTIONS.items():
        if option.check is not None and name in options:
            option.check(options[name], config)


def changed_restarting(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The options whose change needs a running session restarted, in table order."""
    return [name for name, option in OPTIONS.items()
            if option.restarts and before.get(name) != after.get(name)]


def shown(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of the table as a session object shows it (None when unset)."""
    return {name: option.show(options[name]) if name in options else None
            for name, option in OPTIONS.items()}

