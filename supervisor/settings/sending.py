"""The send queue's limits and pacing: ``[sending]``, and the per-session overrides of it.

The defaults are conservative; each says where its number comes from (the anchors' users and
guides, ``../shared/research/ecosystem-anchors.md`` §E "Anti-ban practice"):

- ``per_minute = 6``: Evolution API #439, ten sends in parallel got a number banned.
- ``per_hour = 80``: the commercial guides' default (effess.in: 80/h; >200/h from a cold number
  is high risk; molt.waiflow.app: established numbers above 100-200/h are risky).
- ``per_day = 500`` and the warm-up ``0:50, 2:100, 4:200, 6:350, 10:no cap``: effess.in's ramp,
  20/h and 50/day on days 1-2 up to 80/h and 500/day on days 6-10; molt.waiflow.app: new
  numbers above 20-30/day in their first week get flagged. Evolution #1870: numbers banned at
  40-50 messages a day that once sent 1k.
- ``per_recipient_hour = 4``: WAHA's "How to avoid blocking": at most 4 messages an hour to a
  contact who replied.
- ``new_contacts_day = 10``: whatsapp-web.js #1872, 20 messages to non-contacts got a number
  banned within 30 minutes; WAHA: "never start the conversation".
- ``delay_min_s``/``delay_max_s = 5..30``: random gaps, never fixed (a fixed 2 s delay was banned
  after 30 messages, whatsapp-web.js); the guides' 5-30 s jitter (WAHA says 30-60 s).
- typing at ``typing_chars_per_s = 6`` (about 70 words a minute, a fast typist), at most
  ``typing_max_s = 12``: WAHA's sendSeen -> startTyping -> wait scaled to the length -> send.
"""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.settings.rules import require

__all__ = ["LIMIT_NAMES", "OVER_LIMIT", "SendingConfig"]

#: The limits a send can be held by, as 429 responses and queue entries name them.
LIMIT_NAMES = ("per_minute", "per_hour", "per_day", "warmup", "per_recipient_hour", "new_contacts_day")
#: What a send over a limit does: wait in the queue, or be refused with 429 and Retry-After.
OVER_LIMIT = ("wait", "reject")


@dataclass(frozen=True)
class SendingConfig:
    """[sending]: how long a send request waits for its answer, the rate limits (0 = none),
    the warm-up of young numbers, and the human pacing of each send. Every key can be overridden
    per session (``PATCH /api/sessions/{id} {"sending": {...}}``)."""

    wait_s: float = 30.0  # a send request answers 201 if sent by then, else 202
    over_limit: str = "wait"
    idempotency_h: float = 24.0
    keep_days: float = 7.0  # sent, failed and cancelled entries, then deleted
    max_attempts: int = 5  # tries of one entry whose worker died or timed out, then failed
    per_minute: int = 6
    per_hour: int = 80
    per_day: int = 500
    per_recipient_hour: int = 4
    new_contacts_day: int = 10
    #: (days since the number's first login, sessions/warmup.py; daily cap from that day; 0 = no
    #: warm-up cap any more).
    warmup: tuple[tuple[int, int], ...] = ((0, 50), (2, 100), (4, 200), (6, 350), (10, 0))
    delay_min_s: float = 5.0
    delay_max_s: float = 30.0
    typing: bool = True
    typing_chars_per_s: float = 6.0
    typing_jitter: float = 0.3  # +-30 % of the typing time
    typing_max_s: float = 12.0
    recording: bool = True  # "recording" before a voice note
    recording_min_s: float = 2.0
    recording_max_s: float = 6.0
    mark_read: bool = True  # read the chat before answering a message in it

    def __post_init__(self) -> None:
        require(self.wait_s >= 0, "wait_s", "must be >= 0")
        require(self.over_limit in OVER_LIMIT, "over_limit", f"must be one of {', '.join(OVER_LIMIT)}")
        require(self.idempotency_h > 0, "idempotency_h", "must be > 0")
        require(self.keep_days >= 1, "keep_days", "must be >= 1 (the daily limits count a day back)")
        require(1 <= self.max_attempts <= 100, "max_attempts", "must be from 1 to 100")
        for key in ("per_minute", "per_hour", "per_day", "per_recipient_hour", "new_contacts_day"):
            require(getattr(self, key) >= 0, key, "must be >= 0 (0: no limit)")
        days = [day for day, _cap in self.warmup]
        require(all(day >= 0 and cap >= 0 for day, cap in self.warmup), "warmup",
                "must be [day, cap] pairs of numbers >= 0")
        require(days == sorted(set(days)), "warmup", "must list its days in increasing order")
        require(0 <= self.delay_min_s <= self.delay_max_s, "delay_min_s",
                "must be >= 0 and at most delay_max_s")
        require(self.typing_chars_per_s > 0, "typing_chars_per_s", "must be > 0")
        require(0 <= self.typing_jitter < 1, "typing_jitter", "must be from 0 to below 1")
        require(self.typing_max_s >= 0, "typing_max_s", "must be >= 0")
        require(0 <= self.recording_min_s <= self.recording_max_s, "recording_min_s",
                "must be >= 0 and at most recording_max_s")

    def daily_cap(self, days_since_login: float | None) -> int:
        """The warm-up's daily cap on day ``days_since_login`` (0 = none; None: never logged in
        yet, counted as day 0)."""
        day = 0.0 if days_since_login is None else days_since_login
        cap = 0
        for start, value in self.warmup:
            if day >= start:
                cap = value
        return cap
