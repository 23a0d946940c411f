"""What the cluster knows of one node and of one session, as read from Redis in one go.

Times (``started_at``, ``renewed_at``, ``now``) are Redis server time in seconds: every node's
view of them comes from the same clock, so ages computed from them never compare two hosts'
wall clocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["NodeView", "SessionView", "Verdict", "decode_json"]


def decode_json(raw: str | bytes | None) -> dict[str, Any]:
    """A stored JSON object, or {} for nothing or anything else (one bad entry must not make a
    whole listing fail)."""
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _number(value: object, default: float = 0.0) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class NodeView:
    """One node of ``zv:nodes``: ``alive`` while its lease key exists (``lease_ms`` left on it).

    ``info`` is the whole entry as the node last wrote it (plus ``incarnation``, ``started_at``
    and ``renewed_at``, which Redis stamped); the other fields are its known keys, typed.
    """

    node: str
    alive: bool
    lease_ms: int = 0
    info: dict[str, Any] = field(default_factory=dict, compare=False)
    now: float = 0.0  # Redis server time when this view was read

    @classmethod
    def parse(cls, node: str, raw: str | bytes | None, pttl: int, now: float) -> NodeView:
        """From a ``zv:nodes`` entry and its lease key's PTTL (-2: no key, -1: no expiry)."""
        return cls(node=node, alive=pttl > 0 or pttl == -1, lease_ms=max(pttl, 0),
                   info=decode_json(raw), now=now)

    @property
    def url(self) -> str:
        """Where the other nodes reach this node's API (``[cluster] advertise_url``)."""
        return str(self.info.get("url", ""))

    @property
    def max_sessions(self) -> int:
        """The most sessions this node will run."""
        return int(_number(self.info.get("max_sessions")))

    @property
    def sessions(self) -> int:
        """Sessions it runs (as of its last renewal)."""
        return int(_number(self.info.get("sessions")))

    @property
    def memory_mb(self) -> float:
        """Memory its sessions use (as of its last renewal)."""
        return _number(self.info.get("memory_mb"))

    @property
    def draining(self) -> bool:
        """Set by ``node drain``: no new session is placed here, its own move elsewhere."""
        return self.info.get("draining") is True

    @property
    def tags(self) -> frozenset[str]:
        """Set by ``node tag``: sessions that ask for tags (their ``node_tags``) run only on nodes
        that have them all."""
        tags = self.info.get("tags")
        return frozenset(str(t) for t in tags) if isinstance(tags, list) else frozenset()

    @property
    def version(self) -> str:
        """The zapvisor version it runs."""
        return str(self.info.get("version", ""))

    @property
    def started_at(self) -> float:
        """When this incarnation of the node first renewed its lease (Redis time)."""
        return _number(self.info.get("started_at"))

    @property
    def renewed_at(self) -> float:
        """When it last renewed its lease (Redis time)."""
        return _number(self.info.get("renewed_at"))

    @property
    def age_s(self) -> float:
        """Seconds since its last renewal, by Redis's clock alone."""
        return max(self.now - self.renewed_at, 0.0) if self.renewed_at else 0.0

    @property
    def has_room(self) -> bool:
        """Whether it may take one more session."""
        return self.sessions < self.max_sessions

    def to_dict(self) -> dict[str, Any]:
        """As JSON for ``cluster status`` and the API."""
        return {**self.info, "node": self.node, "alive": self.alive, "lease_ms": self.lease_ms,
                "age_s": round(self.age_s, 3)}


@dataclass(frozen=True)
class SessionView:
    """One session's ownership: its owner, the owner's fencing token, the record the owner
    wrote, and whether the owner's lease is alive."""

    session_id: str
    owner: str
    token: int
    record: dict[str, Any] = field(default_factory=dict, compare=False)
    owner_alive: bool = False
    #: The session's state as its owner last wrote it (cluster/states.py); "" before the first.
    state: str = field(default="", compare=False)

    @property
    def desired(self) -> str:
        """What the record says the session should be doing (``running``, ``stopped``…)."""
        return str(self.record.get("desired", ""))

    def to_dict(self) -> dict[str, Any]:
        """As JSON for ``cluster status`` and the API."""
        return {"session_id": self.session_id, "owner": self.owner, "token": self.token,
                "owner_alive": self.owner_alive, "state": self.state, "record": self.record}


class Verdict(NamedTuple):
    """What a verification of a node's tokens found (coord.py ``verify``)."""

    stale: set[str]  # another node owns these now, or a newer claim: stop them
    missing: set[str]  # Redis knows nothing of these: claim them again (cluster/recovery.py)
    key: str | None  # the cluster key; None or another one: Redis lost its data (it is never deleted)
    marked: bool = True  # False: this node's mark is gone (Redis lost its data)
