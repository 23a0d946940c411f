"""Deleting a session's files: for ``DELETE /api/sessions/{id}``, and after a WhatsApp logout when
``sessions.auto_cleanup_on_logout`` is on (the seeds' pain: deleting a profile Chrome still holds
fails with EBUSY, so Chrome is always closed first and the deletion is retried).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from supervisor.logs import get_logger

__all__ = ["remove_tree"]

_log = get_logger()


async def remove_tree(path: Path, attempts: int = 5, first_delay_s: float = 0.2) -> None:
    """Delete ``path`` recursively (gone already is fine), retrying with a growing delay:
    Chrome's last processes may still be releasing files for a moment."""
    for attempt in range(attempts):
        try:
            await asyncio.to_thread(shutil.rmtree, path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if attempt == attempts - 1:
                raise
            _log.info("profile.remove_retry", path=str(path), attempt=attempt + 1, error=str(exc))
            await asyncio.sleep(first_delay_s * 2**attempt)
