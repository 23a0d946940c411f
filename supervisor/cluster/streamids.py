"""Redis stream ids as the cluster's event ids, and which shard a session's deliveries go to.
Pure functions, no Redis: the API imports this module on a single host too.

A stream id is ``<ms>-<seq>`` (two unsigned 64-bit integers); ids grow with every entry, so
comparing them as pairs of integers orders events as the stream holds them. ``0`` (or ``0-0``)
means "before everything".
"""

from __future__ import annotations

import re
import zlib

__all__ = ["PATTERN", "SHARDS", "is_after", "key", "parse", "shard_of"]

#: What a Last-Event-ID of either kind looks like: an integer (one host) or a stream id.
PATTERN = "^[0-9]{1,20}(-[0-9]{1,20})?$"
_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
_MAX = 2**64 - 1
#: Webhook deliveries are split into this many shard streams, by session (fixed for a cluster:
#: changing it would reorder the deliveries in flight).
SHARDS = 16


def parse(text: str) -> str | None:
    """``text`` as a canonical stream id (``"5"`` -> ``"5-0"``), or None if it is not one."""
    match = _ID.fullmatch(text.strip())
    if match is None:
        return None
    ms, seq = int(match.group(1)), int(match.group(2) or 0)
    return f"{ms}-{seq}" if ms <= _MAX and seq <= _MAX else None


def key(stream_id: str) -> tuple[int, int]:
    """A stream id as a sortable pair."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def is_after(stream_id: str, other: str | None) -> bool:
    """True if ``stream_id`` comes after ``other`` (None: before everything)."""
    return other is None or key(stream_id) > key(other)


def shard_of(session: str | None) -> int:
    """The shard stream of a session's webhook deliveries, the same on every node (daemon-wide
    events: the shard of the empty name)."""
    return zlib.crc32((session or "").encode()) % SHARDS
