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


#: A key prefix: plain path characters, no empty or dot segments.
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _http_url(value: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query


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
    """[snapshots]: the object store that carries a session's login between hosts
    (``s3://bucket/prefix`` on any S3-compatible store, or ``file:///shared/dir``)."""

    url: str = ""
    endpoint_url: str = ""
    access_key_id: str = ""
    # A secret: kept out of repr() so that no log line or traceback of the config shows it.
    secret_access_key: str = field(default="", repr=False)
    region: str = "us-east-1"
    #: Hours between a WORKING session's snapshots (each through a short recycle of its Chrome);
    #: 0: only after a login and at orderly stops, drains and recycles.
    every_h: float = 6.0

    def __post_init__(self) -> None:
        require(self.url == "" or self.scheme in ("s3", "file"), "url",
                "must be empty, \"s3://bucket/prefix\" or \"file:///absolute/dir\"")
        if self.scheme == "s3":
            require(_BUCKET_RE.fullmatch(self.bucket) is not None, "url",
                    "must name an S3 bucket (3-63 lower-case letters, digits, '.', '-')")
            require(self.prefix == "" or (_PREFIX.fullmatch(self.prefix) is not None and not any(
                        s.strip(".") == "" for s in self.prefix.split("/"))), "url",
                    "must have a prefix of plain path segments (letters, digits, '_', '.', '-')")
        if self.scheme == "file":
            parts = urllib.parse.urlsplit(self.url)
            require(parts.netloc == "" and parts.path.startswith("/") and not parts.query
                    and ".." not in parts.path.split("/"), "url",
                    "must be file:///absolute/dir (three slashes, no host, no '..')")
        require(self.endpoint_url == "" or _http_url(self.endpoint_url), "endpoint_url",
                "must be empty (AWS) or an http(s) URL such as \"http://minio:9000\"")
        require(bool(self.access_key_id) == bool(self.secret_access_key), "secret_access_key",
                "and access_key_id must be set together (both empty: boto3's own chain)")
        require(self.every_h >= 0, "every_h", "must be 0 (off) or a number of hours")
        require(self.region != "" and self.region.strip() == self.region, "region",
                "must be a region name such as \"us-east-1\"")

    @property
    def enabled(self) -> bool:
        """True when snapshots are kept."""
        return bool(self.url)

    @property
    def scheme(self) -> str:
        """``s3``, ``file``, or "" when off."""
        return urllib.parse.urlsplit(self.url).scheme if self.url else ""

    @property
    def bucket(self) -> str:
        """The S3 bucket (``s3://`` only)."""
        return urllib.parse.urlsplit(self.url).netloc if self.scheme == "s3" else ""

    @property
    def prefix(self) -> str:
        """The S3 key prefix, without slashes around it (``s3://`` only)."""
        return urllib.parse.urlsplit(self.url).path.strip("/") if self.scheme == "s3" else ""

    @property
    def directory(self) -> str:
        """The shared directory (``file://`` only)."""
        return urllib.parse.urlsplit(self.url).path if self.scheme == "file" else ""
