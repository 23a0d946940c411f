"""Received media kept in the state directory: ``[media] auto_download`` saves each incoming
file as its ``message`` event goes by, the download route serves a saved copy first (the page
may have forgotten the message), and the housekeeping deletes copies older than ``keep_days``.

A copy is ``<state>/sessions/<id>/media/<hash of the message id>`` (0600) with a ``.json``
beside it ({"id", "mimetype", "filename", "size"}).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from supervisor.layout import StateLayout
from supervisor.logs import get_logger
from supervisor.sessions import media
from supervisor.sessions.registry import Registry
from worker import protocol

__all__ = ["MediaKeeper", "prune", "save", "saved"]

_log = get_logger()
_QUEUE_MAX = 1000  # messages waiting for their media; more are skipped (logged)


def _name(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()[:40]


def saved(layout: StateLayout, session_id: str, message_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The saved copy of a message's media and its description, if there is one."""
    path = layout.media_dir(session_id) / _name(message_id)
    try:
        info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (path, info) if path.is_file() else None


def save(layout: StateLayout, session_id: str, message_id: str, source: Path, info: dict[str, Any]) -> Path:
    """Move a downloaded file (in the session's scratch, same disk) into its media folder."""
    folder = layout.media_dir(session_id)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / _name(message_id)
    meta = path.with_suffix(".json")
    fd = os.open(meta, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"id": message_id, **info}, out)
    os.replace(source, path)
    return path


def prune(layout: StateLayout, keep_days: float) -> int:
    """Delete saved media older than ``keep_days`` in every session; how many files went."""
    cutoff = time.time() - keep_days * 86400
    removed = 0
    for folder in layout.sessions.glob("*/media"):
        for path in folder.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue  # gone meanwhile
    return removed


class MediaKeeper:
    """Saves the media of incoming ``message`` events when ``[media] auto_download`` is on.
    A bus listener queues them; :meth:`run` (owned by the daemon's TaskGroup) downloads them
    one at a time, so a burst of photos never loads a page with parallel downloads."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(_QUEUE_MAX)

    def on_event(self, event: dict[str, Any]) -> None:
        """Bus listener: queue an incoming media message."""
        payload = event.get("payload") or {}
        if (event.get("event") != protocol.EV_MESSAGE or not payload.get("has_media")
                or payload.get("from_me") or not self._registry.config.media.auto_download):
            return
        try:
            self._queue.put_nowait((str(event.get("session")), str(payload.get("id"))))
        except asyncio.QueueFull:
            _log.warning("media.auto_download_skipped", session_id=event.get("session"),
                         message_id=payload.get("id"), reason="queue full")

    async def run(self) -> None:
        """Download queued media until cancelled."""
        layout = self._registry.config.layout
        while True:
            session_id, message_id = await self._queue.get()
            try:
                session = self._registry.get(session_id)
                path, info = await media.download(session, message_id)
                save(layout, session_id, message_id, path, info)
                _log.info("media.saved", session_id=session_id, message_id=message_id, size=info.get("size"))
            except Exception as exc:  # the session went, the page refused, disk full: log, go on
                _log.warning("media.auto_download_failed", session_id=session_id,
                             message_id=message_id, error=str(exc))
