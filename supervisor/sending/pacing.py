"""The human part of sending: a random gap between two sends, "typing" for a time that grows
with the text, "recording" before a voice note (WAHA's "How to avoid blocking": sendSeen ->
startTyping -> a random wait scaled to the message -> send; never a fixed delay)."""

from __future__ import annotations

import random

from supervisor.settings import SendingConfig

__all__ = ["gap_s", "presence_for"]


def gap_s(policy: SendingConfig, rng: random.Random) -> float:
    """The pause before the next send, drawn between delay_min_s and delay_max_s."""
    return rng.uniform(policy.delay_min_s, policy.delay_max_s)


def presence_for(policy: SendingConfig, kind: str, chars: int, rng: random.Random) -> tuple[str, float] | None:
    """What the chat shows before this send and for how long: ("typing", s) before a text or a
    captioned file, ("recording", s) before a voice note, or None."""
    if kind == "ptt":
        if not policy.recording:
            return None
        return "recording", rng.uniform(policy.recording_min_s, policy.recording_max_s)
    if not policy.typing or chars <= 0:
        return None
    jitter = rng.uniform(-policy.typing_jitter, policy.typing_jitter)
    seconds = min(policy.typing_max_s, chars / policy.typing_chars_per_s * (1.0 + jitter))
    return ("typing", seconds) if seconds > 0 else None
