"""Deleting a session's files: for ``DELETE /api/sessions/{id}``, and after a WhatsApp logout when
``sessions.auto_cleanup_on_logout`` is on (the seeds' pain: deleting a profile Chrome still holds
fails with EBUSY, so Chrome is always closed first and the deletion is retried).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from supervisor.errors import ZapvisorError
from supervisor.logs import get_logger
from supervisor.states import State

if TYPE_CHECKING:  # the registry imports this module
    from supervisor.registry import Registry

__all__ = ["cleanup_after_logout", "remove_tree"]

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


async def cleanup_after_logout(registry: Registry, session_id: str) -> None:
    """Stop the session (Chrome closes first), wait ``cleanup_delay_s``, delete its profile.
    The session stays, STOPPED; starting it again shows a new QR code. Never raises: this runs
    in the daemon's TaskGroup, where one failure must not end the others."""
    try:
        session = await registry.stop(session_id)
        await asyncio.sleep(registry.config.sessions.cleanup_delay_s)
        async with session.lock:
            if registry.sessions.get(session_id) is not session or session.state != State.STOPPED:
                _log.info("logout.cleanup_skipped", session_id=session_id, state=str(session.state))
                return  # started again (its profile is in use) or deleted meanwhile
            await remove_tree(Path(session.profile_dir))
            session.update_record(last_exit="logged out; profile deleted")
        _log.info("logout.profile_deleted", session_id=session_id, profile_dir=session.profile_dir)
    except ZapvisorError as exc:  # deleted meanwhile, database unwritable, ...
        _log.warning("logout.cleanup_failed", session_id=session_id, error=exc.message)
    except OSError as exc:
        _log.error("logout.cleanup_failed", session_id=session_id, error=str(exc))
