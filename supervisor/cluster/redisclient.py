"""The cluster's Redis client: how it connects (every call bounded in time, one retry at once),
and what a failure to answer becomes (ClusterUnavailable, a 503: nothing can be decided now).
Every module of the cluster that talks to Redis goes through these two."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from supervisor.errors import ClusterUnavailable

__all__ = ["connect", "reachable", "text"]

#: What Redis raises when it cannot answer now (as opposed to a bug in a command).
_UNREACHABLE: tuple[type[BaseException], ...] = (
    rexc.ConnectionError, rexc.TimeoutError, rexc.ReadOnlyError, rexc.ClusterDownError,
    rexc.TryAgainError, rexc.OutOfMemoryError, OSError)


def connect(url: str, timeout_s: float, client_name: str = "zapvisor") -> aioredis.Redis:
    """A client for ``[cluster] redis_url`` whose every call fails within ``timeout_s`` (a
    partition must not hang the lease keeper) and retries once at once (a pooled connection that
    a Redis restart closed)."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1), client_name=client_name)
    return client


def text(value: Any) -> str:
    """A Redis reply as text (bytes decoded)."""
    return value.decode() if isinstance(value, bytes) else str(value)


@contextlib.contextmanager
def reachable(what: str) -> Iterator[None]:
    """Turn "Redis cannot answer" into ClusterUnavailable (its message names no password:
    redis-py's name host and port only)."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise ClusterUnavailable(f"the cluster's Redis cannot be reached ({what}): {exc}") from exc
