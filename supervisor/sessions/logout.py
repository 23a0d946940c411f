"""After a logout, with ``[sessions] auto_cleanup_on_logout``: the session stops and, a moment
later, its profile is deleted (it holds nothing useful any more: a new QR is needed anyway)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from supervisor.errors import ZapvisorError
from supervisor.logs import get_logger
from supervisor.sessions.profiles import remove_tree
from supervisor.sessions.session import Session
from supervisor.states import State

__all__ = ["cleanup_after_logout"]

_log = get_logger()


async def cleanup_after_logout(stop: Callable[[str, str], Awaitable[Session]],
                               sessions: Mapping[str, Session], delay_s: float,
                               session_id: str, reason: str) -> None:
    """``stop`` the session (Chrome closes first), wait ``delay_s``, delete its profile.
    The session stays, STOPPED; starting it again shows a new QR code. Never raises: this runs
    in the daemon's TaskGroup, where one failure must not end the others."""
    try:
        session = await stop(session_id, reason)
        await asyncio.sleep(delay_s)
        async with session.lock:
            if sessions.get(session_id) is not session or session.state != State.STOPPED:
                _log.info("logout.cleanup_skipped", session_id=session_id, state=str(session.state))
                return  # started again (its profile is in use) or deleted meanwhile
            await remove_tree(Path(session.profile_dir))
            session.update_record(last_exit="logged out; profile deleted")
        _log.info("logout.profile_deleted", session_id=session_id, profile_dir=session.profile_dir)
    except ZapvisorError as exc:  # deleted meanwhile, database unwritable, ...
        _log.warning("logout.cleanup_failed", session_id=session_id, error=exc.message)
    except OSError as exc:
        _log.error("logout.cleanup_failed", session_id=session_id, error=str(exc))

