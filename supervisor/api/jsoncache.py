"""JSON objects kept by name until what they were made of changes (the listing's cache,
api/listing.py). A leaf module: the application's keys (api/keys.py) name its type."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["KeptJson", "encode"]

#: Compact JSON (no spaces after separators), ASCII like aiohttp's json_response.
encode: Callable[[Any], str] = json.JSONEncoder(separators=(",", ":")).encode


class KeptJson:
    """Per name, a JSON object without its closing brace (so that keys can be appended as it
    is sent), made again only when the key it was made for differs. A round (:meth:`round`)
    drops the names it did not ask for: those of sessions deleted since."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[object, bytes]] = {}
        self._asked: dict[str, tuple[object, bytes]] = {}
        self.encoded = 0  # objects encoded so far (the others were kept)

    def __len__(self) -> int:
        """How many objects are kept."""
        return len(self._kept)

    def get(self, name: str, key: object) -> bytes | None:
        """The JSON kept for ``name`` if it was made for an equal ``key``, else None (keys are
        compared, never hashed: they may hold dicts)."""
        known = self._kept.get(name)
        if known is None or known[0] != key:
            return None
        self._asked[name] = known
        return known[1]

    def put(self, name: str, key: object, obj: dict[str, Any]) -> bytes:
        """Keep ``obj``, made for ``key``, as ``name``'s JSON; that JSON."""
        known = self._asked[name] = (key, encode(obj)[:-1].encode())
        self.encoded += 1
        return known[1]

    def round(self) -> None:
        """End a round: keep only what it asked for."""
        self._kept, self._asked = self._asked, {}
