"""Files the API serves from the package (the dashboard's, the docs page's). Only what the
package ships is served, listed once at import: no path from a request reaches the file system."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from supervisor.errors import NotFound

__all__ = ["Assets"]

_TYPES = {
    ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
}
_TEXT = (".html", ".js", ".css")


class Assets:
    """The files of ``folder`` with these suffixes, each answered with ``headers``."""

    def __init__(self, folder: Path, headers: Mapping[str, str], suffixes: Iterable[str] = tuple(_TYPES)) -> None:
        self.types = {suffix: _TYPES[suffix] for suffix in suffixes}
        self.files = {p.name: p for p in folder.iterdir() if p.is_file() and p.suffix in self.types}
        self._headers = dict(headers)

    def media(self) -> dict[str, Any]:
        """The content types they are served as (for the document)."""
        return {kind: {"type": "string"} for kind in sorted(set(self.types.values()))}

    def response(self, name: str, what: str) -> web.FileResponse:
        """File ``name``; NotFound naming ``what`` when the package has none by that name."""
        path = self.files.get(name)
        if path is None:
            raise NotFound(f"no {what} file {name!r}")
        response = web.FileResponse(path, headers=self._headers)
        response.content_type = self.types[path.suffix]
        if path.suffix in _TEXT:
            response.charset = "utf-8"
        return response
