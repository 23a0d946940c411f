"""Running on more than one host: ``[cluster]`` (membership in Redis) and ``[snapshots]`` (where
a session's login goes between hosts). Both are off by default: an empty ``redis_url`` is one
host, an empty snapshot ``url`` is no snapshots, and nothing of either is imported then.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from supervisor.settings.rules import require

__all__ = ["ClusterConfig", "SnapshotsConfig"]

#: A node's name: it is part of Redis keys (``zv:lease:{node}``) and shown by the CLI.
_NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: S3's bucket naming rules (lower case, digits, dots and hyphens; 3 to 63 characters).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: A key prefix: plain path characters, no empty or dot segments.
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query


@dataclass(frozen=True)
class ClusterConfig:
    """[cluster]: several daemons sharing their sessions through Redis (empty ``redis_url``:
    one host, today's behaviour)."""

    redis_url: str = ""
    node_id: str = ""
    advertise_url: str = ""
    lease_s: float = 10.0

    def __post_init__(self) -> None:
        scheme = urlsplit(self.redis_url).scheme if self.redis_url else ""
        require(self.redis_url == "" or scheme in ("redis", "rediss", "unix"), "redis_url",
                "must be empty or a redis://, rediss:// or unix:// URL")
        require(self.node_id == "" or _NODE_ID.fullmatch(self.node_id) is not None, "node_id",
                "must be empty (the host name) or 1-64 letters, digits, '.', '_', '-'")
        require(self.redis_url == "" or _http_url(self.advertise_url), "advertise_url",
                "must be an http(s) URL other nodes reach this node's API at, such as "
                "\"http://10.0.0.5:8083\", when redis_url is set")
        require(self.advertise_url == "" or _http_url(self.advertise_url), "advertise_url",
                "must be empty or an http(s) URL")
        require(self.lease_s >= 1, "lease_s", "must be at least 1")

    @property
    def enabled(self) -> bool:
        """True when this daemon is a node of a cluster."""
        return bool(self.redis_url)

    @property
    def node(self) -> str:
        """This node's id: ``node_id``, else the host name."""
        return self.node_id or socket.gethostname()


@dataclass(frozen=True)
class SnapshotsConfig:
    """[snapshots]: the object store that carries a session's login between hosts
    (``s3://bucket/prefix`` on any S3-compatible store, or ``file:///shared/dir``)."""

    url: str = ""
    endpoint_url: str = ""
    access_key_id: str = ""
    # A secret: kept out of repr() so that no log line or traceback of the config shows it.
    secret_access_key: str = field(default="", repr=False)
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        require(self.url == "" or self.scheme in ("s3", "file"), "url",
                "must be empty, \"s3://bucket/prefix\" or \"file:///absolute/dir\"")
        if self.scheme == "s3":
            require(_BUCKET.fullmatch(self.bucket) is not None, "url",
                    "must name an S3 bucket (3-63 lower-case letters, digits, '.', '-')")
            require(self.prefix == "" or (_PREFIX.fullmatch(self.prefix) is not None and not any(
                        s.strip(".") == "" for s in self.prefix.split("/"))), "url",
                    "must have a prefix of plain path segments (letters, digits, '_', '.', '-')")
        if self.scheme == "file":
            parts = urlsplit(self.url)
            require(parts.netloc == "" and parts.path.startswith("/") and not parts.query
                    and ".." not in parts.path.split("/"), "url",
                    "must be file:///absolute/dir (three slashes, no host, no '..')")
        require(self.endpoint_url == "" or _http_url(self.endpoint_url), "endpoint_url",
                "must be empty (AWS) or an http(s) URL such as \"http://minio:9000\"")
        require(bool(self.access_key_id) == bool(self.secret_access_key), "access_key_id",
                "and secret_access_key must be set together (both empty: boto3's own chain)")
        require(self.region != "" and self.region.strip() == self.region, "region",
                "must be a region name such as \"us-east-1\"")

    @property
    def enabled(self) -> bool:
        """True when snapshots are kept."""
        return bool(self.url)

    @property
    def scheme(self) -> str:
        """``s3``, ``file``, or "" when off."""
        return urlsplit(self.url).scheme if self.url else ""

    @property
    def bucket(self) -> str:
        """The S3 bucket (``s3://`` only)."""
        return urlsplit(self.url).netloc if self.scheme == "s3" else ""

    @property
    def prefix(self) -> str:
        """The S3 key prefix, without slashes around it (``s3://`` only)."""
        return urlsplit(self.url).path.strip("/") if self.scheme == "s3" else ""

    @property
    def directory(self) -> str:
        """The shared directory (``file://`` only)."""
        return urlsplit(self.url).path if self.scheme == "file" else ""
