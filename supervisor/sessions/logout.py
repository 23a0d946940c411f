"""After a logout, with ``[sessions] auto_cleanup_on_logout``: the session stops and, a moment
later, its profile is deleted (it holds nothing useful any more: a new QR is needed anyway)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from supervisor.errors import ZapvisorError
from supervisor.logs import get_logger
from supervisor.sessions.profiles import remove_tree
from supervisor.states import State

if TYPE_CHECKING:
    from supervisor.sessions.registry import Registry

__all__ = ["cleanup_after_logout"]

_log = get_logger()


async def cleanup_after_logout(registry: Registry, session_id: str, reason: str) -> None:
    """Stop the session (Chrome closes first), wait ``cleanup_delay_s``, delete its profile.
    The session stays, STOPPED; starting it again shows a new QR code. Never raises: this runs
    in the daemon's TaskGroup, where one failure must not end the others."""
    try:
        session = await registry.stop(session_id, reason)
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

