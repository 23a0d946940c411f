"""Which date the send queue's warm-up counts a number's days from (``first_login_at``).

The warm-up caps a young number's daily sends by its age (supervisor/settings/sending.py). The
age belongs to the number, not to the session: a session that is logged out and then linked to
a different number starts that number's warm-up again, while the same number linking again keeps
its date. ``phone_number`` is cleared on logout, so the record keeps the number the date belongs
to in ``first_login_phone``.
"""

from __future__ import annotations

from typing import Any

from supervisor.logs import get_logger
from supervisor.store import SessionRecord

__all__ = ["login_changes"]

_log = get_logger()


def login_changes(record: SessionRecord, phone: str, now: float) -> dict[str, Any]:
    """The fields of ``record`` to change now that the worker says ``phone`` is logged in
    (``now``: wall clock); empty when nothing changes."""
    changes: dict[str, Any] = {}
    if phone != record.phone_number:
        changes["phone_number"] = phone
    # A row written before schema 8 names no owner of its date: the number linked then owns it.
    # A date whose number is unknown (logged out before schema 8) starts again: of the two
    # mistakes, a warm-up too many is the one that does not risk the number.
    owner = record.first_login_phone or record.phone_number
    if record.first_login_at is None or owner != phone:
        changes.update(first_login_at=now, first_login_phone=phone)
        _log.info("session.warmup_started", session_id=record.id, phone_number=phone,
                  previous_phone=owner, previous_first_login_at=record.first_login_at)
    elif record.first_login_phone != phone:
        changes["first_login_phone"] = phone
    return changes
