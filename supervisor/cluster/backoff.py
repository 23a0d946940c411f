"""Restores that fail wait before the next try: a session whose snapshot cannot be read (the
store down, every copy refused) is held back by the cluster and tried again at its node's
watch, which comes every ``lease_s / 3``; without a pause each try would download the archive
again, for ever, at that pace. The pause doubles from 5 s to 5 minutes per session, and a
restore that succeeds (or finds nothing to restore) ends it.
"""

from __future__ import annotations

import time

from supervisor.errors import Unavailable, ZapvisorError
from supervisor.logs import get_logger

__all__ = ["RestoreBackoff"]

_log = get_logger()
FIRST_S = 5.0
MOST_S = 300.0


class RestoreBackoff:
    """Per session: how many restores failed in a row, and when the next may run (monotonic)."""

    def __init__(self) -> None:
        self._failed: dict[str, tuple[int, float, str]] = {}  # id -> (count, next try, why)

    def check(self, session_id: str) -> None:
        """Unavailable (with Retry-After) while ``session_id``'s pause runs."""
        failed = self._failed.get(session_id)
        if failed is None:
            return
        count, next_at, why = failed
        left = next_at - time.monotonic()
        if left > 0:
            raise Unavailable(f"restoring session {session_id}'s snapshot failed {count} time(s) "
                              f"({why}); next try in {left:.0f} s", retry_after_s=max(1, round(left)))

    def failed(self, session_id: str, exc: BaseException) -> float:
        """Count a failed restore; the pause before the next (logged)."""
        count = self._failed.get(session_id, (0, 0.0, ""))[0] + 1
        pause = min(MOST_S, FIRST_S * 2 ** (count - 1))
        why = exc.message if isinstance(exc, ZapvisorError) else f"{type(exc).__name__}: {exc}"
        self._failed[session_id] = (count, time.monotonic() + pause, why)
        _log.warning("cluster.restore_failed", session_id=session_id, failures=count,
                     retry_in_s=pause, error=why)
        return pause

    def succeeded(self, session_id: str) -> None:
        """The restore went through (or had nothing to do): no pause any more."""
        self._failed.pop(session_id, None)
