"""Whether a send may go now, counted from the queue's own rows: rate limits per minute, hour and
day, the warm-up's daily cap, per recipient per hour, and first contacts per day
(supervisor/settings/sending.py says where each default comes from).

Each window slides: a limit of N per window W is reached when N sends fell in the last W, and
it frees up when the oldest of those N leaves the window, which is when a held send may go.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from supervisor.sending.store import SendStore
from supervisor.settings import SendingConfig

__all__ = ["Hold", "chat_aliases", "check_chat", "check_session", "usage"]

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0


@dataclass(frozen=True)
class Hold:
    """A send must wait for ``limit`` (a settings.sending.LIMIT_NAMES name) until ``until``
    (wall clock)."""

    limit: str
    until: float

    def retry_after_s(self, now: float | None = None) -> int:
        """Whole seconds from now to ``until`` (at least 1), for a Retry-After header."""
        return max(1, int(self.until - (time.time() if now is None else now) + 0.999))


def _window(times: list[float], cap: int, window_s: float) -> float | None:
    """When a window of ``cap`` per ``window_s`` frees a place, if ``times`` (the newest ``cap``
    send times in it, newest first) fill it; None when there is room."""
    return times[cap - 1] + window_s if cap > 0 and len(times) >= cap else None


def check_session(policy: SendingConfig, store: SendStore, session: str, now: float,
                  first_login_at: float | None) -> Hold | None:
    """The limit that holds every send of ``session`` now (the one freeing last), or None."""
    holds = []
    days = None if first_login_at is None else max(0.0, (now - first_login_at) / _DAY)
    warmup = policy.daily_cap(days)
    daily = ("per_day", policy.per_day)
    if warmup and (not policy.per_day or warmup < policy.per_day):
        daily = ("warmup", warmup)
    for name, cap, window in (("per_minute", policy.per_minute, _MINUTE),
                              ("per_hour", policy.per_hour, _HOUR), (*daily, _DAY)):
        if cap:
            until = _window(store.sent_times(session, now - window, cap), cap, window)
            if until is not None:
                holds.append(Hold(name, until))
    return max(holds, key=lambda h: h.until) if holds else None


def chat_aliases(chat: str, phone: str | None = None) -> tuple[str, ...]:
    """The ids one contact goes by: its chat id and, where known, its number's ``@c.us`` id
    (2026 pages address people by LID, while the API is given phone numbers)."""
    if phone and chat != f"{phone}@c.us":
        return (chat, f"{phone}@c.us")
    return (chat,)


def check_chat(policy: SendingConfig, store: SendStore, session: str, chat: str,
               now: float) -> Hold | None:
    """The limit that holds sends to ``chat`` now: per recipient per hour, or, for a person who
    never wrote to this account, first contacts per day."""
    holds = []
    if policy.per_recipient_hour:
        times = store.sent_times(session, now - _HOUR, policy.per_recipient_hour, chat)
        until = _window(times, policy.per_recipient_hour, _HOUR)
        if until is not None:
            holds.append(Hold("per_recipient_hour", until))
    if (policy.new_contacts_day and not chat.endswith("@g.us")
            and not store.known(session, chat_aliases(chat))):
        began = store.first_contacts(session, now - _DAY, policy.new_contacts_day)
        until = _window(began, policy.new_contacts_day, _DAY)
        if until is not None:
            holds.append(Hold("new_contacts_day", until))
    return max(holds, key=lambda h: h.until) if holds else None


def usage(policy: SendingConfig, store: SendStore, session: str, now: float,
          first_login_at: float | None) -> dict[str, Any]:
    """Each session-wide limit with how much of it the last window used, the warm-up day, and
    the pacing in force (for the queue listing and the dashboard)."""
    days = None if first_login_at is None else max(0.0, (now - first_login_at) / _DAY)
    used = {}
    for name, cap, window in (("per_minute", policy.per_minute, _MINUTE),
                              ("per_hour", policy.per_hour, _HOUR), ("per_day", policy.per_day, _DAY)):
        used[name] = {"limit": cap or None, "used": len(store.sent_times(session, now - window, 100000))}
    return {"limits": used, "warmup_day": None if days is None else int(days),
            "warmup_cap": policy.daily_cap(days) or None,
            "per_recipient_hour": policy.per_recipient_hour or None,
            "new_contacts_day": policy.new_contacts_day or None,
            "new_contacts_today": len(store.first_contacts(session, now - _DAY, 100000)),
            "over_limit": policy.over_limit,
            "pacing": {"delay_s": [policy.delay_min_s, policy.delay_max_s], "typing": policy.typing,
                       "recording": policy.recording, "mark_read": policy.mark_read}}
