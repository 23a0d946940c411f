"""Beyond one host: ``[cluster]`` (membership and ownership in Redis) and ``[snapshots]`` (where
profiles go between hosts). Both are off by default: an empty ``redis_url`` is one host, no Redis.

Neither section's rules echo a value: a Redis URL may carry a password, and
``secret_access_key`` is a secret (never logged, never on a command line; ``repr=False``).
"""

from __future__ import annotations

import re
import socket
import urllib.parse
from dataclasses import dataclass, field

from supervisor.settings.rules import BASE_URL, require

__all__ = ["ClusterConfig", "SnapshotsConfig"]

#: A node id goes into Redis key names and log lines: a host name's characters.
NODE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: S3's bucket naming rules (3 to 63 lowercase letters, digits, dots and hyphens).
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _redis_url_ok(url: str) -> bool:
    """redis://host[:port][/db], rediss://… (TLS) or unix:///path/to/socket."""
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return False
    if parts.scheme in ("redis", "rediss"):
        return bool(parts.hostname)
    return parts.scheme == "unix" and parts.path.startswith("/") and len(parts.path) > 1


def _snapshots_url_ok(url: str) -> bool:
    """s3://bucket[/prefix] or file:///absolute/dir."""
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment:
        return False
    if parts.scheme == "s3":
        return _BUCKET_RE.fullmatch(parts.netloc) is not None
    return (parts.scheme == "file" and parts.netloc == "" and parts.path.startswith("/")
            and len(parts.path.rstrip("/")) > 0)


@dataclass(frozen=True)
class ClusterConfig:
    """[cluster]: the Redis every node of a cluster shares; empty ``redis_url``: one host."""

    redis_url: str = field(default="", repr=False)
    node_id: str = ""
    advertise_url: str = ""
    lease_s: float = 10.0

    def __post_init__(self) -> None:
        require(self.redis_url == "" or _redis_url_ok(self.redis_url), "redis_url",
                "must be empty or a redis://host[:port][/db], rediss://… or unix:///path URL")
        require(self.node_id == "" or NODE_ID_RE.fullmatch(self.node_id) is not None, "node_id",
                "must be empty (the host name) or up to 64 letters, digits, '.', '_', '-'")
        require(self.advertise_url == "" or BASE_URL.fullmatch(self.advertise_url) is not None,
                "advertise_url", "must be an http(s) URL such as \"http://10.0.0.5:8083\"")
        require(not self.redis_url or bool(self.advertise_url), "advertise_url",
                "must be set when redis_url is: how the other nodes reach this node's API, "
                "such as \"http://10.0.0.5:8083\"")
        require(self.lease_s >= 1, "lease_s", "must be at least 1")

    @property
    def enabled(self) -> bool:
        """Whether this daemon is a node of a cluster (a Redis URL is set)."""
        return bool(self.redis_url)

    @property
    def node(self) -> str:
        """This node's id: ``node_id``, else the host name."""
        return self.node_id or socket.gethostname()


@dataclass(frozen=True)
class SnapshotsConfig:
    """[snapshots]: where a session's login goes between hosts (an S3 bucket, or a directory every
    node mounts); empty ``url``: none."""

    url: str = ""
    endpoint_url: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        require(self.url == "" or _snapshots_url_ok(self.url), "url",
                "must be empty, \"s3://bucket[/prefix]\" or \"file:///absolute/dir\"")
        require(self.endpoint_url == "" or BASE_URL.fullmatch(self.endpoint_url) is not None,
                "endpoint_url", "must be empty (AWS) or an http(s) URL such as \"http://127.0.0.1:9000\"")
        require(bool(self.access_key_id) == bool(self.secret_access_key), "secret_access_key",
                "and access_key_id must be set together (or both left empty)")
        require(bool(self.region.strip()), "region", "must not be empty")
