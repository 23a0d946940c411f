"""The send queue's limits, warm-up, pacing and per-session policy, on a real SQLite store
(the rows are written as the lane writes them; times are given, never waited for)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from supervisor import config as config_mod
from supervisor.errors import ConfigError, InvalidRequest
from supervisor.sending import limits, pacing
from supervisor.sending.policy import fingerprint, sending_policy
from supervisor.sending.store import SendStore
from supervisor.settings import SendingConfig
from supervisor.store import Store

CHAT, OTHER, GROUP = "5511999999999@c.us", "5511988888888@c.us", "120363000000000007@g.us"


@pytest.fixture
def sends(tmp_path: Path) -> SendStore:
    return SendStore(Store(tmp_path / "zapvisor.db"))


def _sent(sends: SendStore, chat: str, at: float, session: str = "s") -> None:
    entry = sends.insert(session, chat, "text", {"text": "hi"}, None)
    sends.update(entry, status="sent", sent_at=at)


def _policy(**values: object) -> SendingConfig:
    off = {"per_minute": 0, "per_hour": 0, "per_day": 0, "per_recipient_hour": 0,
           "new_contacts_day": 0, "warmup": []}
    built: SendingConfig = config_mod.build_section("sending", {**off, **values}, "test")
    return built


def test_a_window_holds_until_its_oldest_send_leaves_it(sends: SendStore) -> None:
    now = 10_000.0
    policy = _policy(per_minute=3)
    for at in (now - 50, now - 30, now - 10):
        _sent(sends, CHAT, at)
    hold = limits.check_session(policy, sends, "s", now, None)
    assert hold is not None and hold.limit == "per_minute" and hold.until == now - 50 + 60
    assert hold.retry_after_s(now) == 10
    assert limits.check_session(policy, sends, "s", now + 11, None) is None  # the oldest left
    assert limits.check_session(policy, sends, "other", now, None) is None  # per session


def test_the_limit_that_frees_last_is_the_one_named(sends: SendStore) -> None:
    now = 100_000.0
    for at in (now - 3000, now - 20, now - 10):
        _sent(sends, CHAT, at)
    hold = limits.check_session(_policy(per_minute=2, per_hour=3), sends, "s", now, None)
    assert hold is not None and (hold.limit, hold.until) == ("per_hour", now - 3000 + 3600)


def test_warmup_caps_young_numbers_by_their_age(sends: SendStore) -> None:
    now = 1_000_000.0
    policy = _policy(per_day=500, warmup=[[0, 2], [3, 4], [6, 0]])
    _sent(sends, CHAT, now - 100)
    _sent(sends, OTHER, now - 50)
    day = 86400.0
    young = limits.check_session(policy, sends, "s", now, now - 1 * day)
    assert young is not None and young.limit == "warmup" and young.until == now - 100 + day
    assert limits.check_session(policy, sends, "s", now, now - 4 * day) is None  # cap 4 now
    assert policy.daily_cap(7) == 0 and policy.daily_cap(None) == 2  # never logged in: day 0
    # The warm-up never raises a lower per_day.
    low = _policy(per_day=2, warmup=[[0, 50]])
    hold = limits.check_session(low, sends, "s", now, now)
    assert hold is not None and hold.limit == "per_day"


def test_per_recipient_holds_one_chat_only(sends: SendStore) -> None:
    now = 50_000.0
    policy = _policy(per_recipient_hour=2)
    _sent(sends, CHAT, now - 600)
    _sent(sends, CHAT, now - 300)
    hold = limits.check_chat(policy, sends, "s", CHAT, now)
    assert hold is not None and (hold.limit, hold.until) == ("per_recipient_hour", now - 600 + 3600)
    assert limits.check_chat(policy, sends, "s", OTHER, now) is None


def test_first_contacts_are_counted_and_known_chats_are_free(sends: SendStore) -> None:
    now = time.time()
    policy = _policy(new_contacts_day=1)
    assert limits.check_chat(policy, sends, "s", CHAT, now) is None
    sends.note_chats("s", (CHAT,), we_began=True)  # the first conversation we began today
    hold = limits.check_chat(policy, sends, "s", OTHER, now)
    assert hold is not None and hold.limit == "new_contacts_day"
    assert limits.check_chat(policy, sends, "s", CHAT, now) is None  # no longer new
    assert limits.check_chat(policy, sends, "s", GROUP, now) is None  # groups are not contacts
    # A contact who wrote to us, known by its LID chat and its number.
    sends.note_chats("s", limits.chat_aliases("99887766@lid", "5511977777777"), we_began=False)
    assert limits.check_chat(policy, sends, "s", "5511977777777@c.us", now) is None
    assert len(sends.first_contacts("s", now - 86400, 10)) == 1


def test_pacing_scales_typing_with_the_text_and_records_before_voice() -> None:
    rng = random.Random(7)
    policy = _policy(typing_chars_per_s=10.0, typing_jitter=0.2, typing_max_s=5.0,
                     recording_min_s=1.0, recording_max_s=2.0)
    short = [pacing.presence_for(policy, "text", 10, rng) for _ in range(50)]
    assert all(p is not None and p[0] == "typing" and 0.8 <= p[1] <= 1.2 for p in short)
    long = pacing.presence_for(policy, "text", 10_000, rng)
    assert long == ("typing", 5.0)  # capped
    voice = pacing.presence_for(policy, "ptt", 0, rng)
    assert voice is not None and voice[0] == "recording" and 1.0 <= voice[1] <= 2.0
    assert pacing.presence_for(policy, "image", 0, rng) is None  # no caption: nothing to type
    off = _policy(typing=False, recording=False)
    assert pacing.presence_for(off, "text", 100, rng) is None
    assert pacing.presence_for(off, "ptt", 0, rng) is None
    gaps = [pacing.gap_s(_policy(delay_min_s=2.0, delay_max_s=3.0), rng) for _ in range(50)]
    assert all(2.0 <= g <= 3.0 for g in gaps) and len(set(gaps)) > 1  # random, never fixed


def test_session_overrides_are_checked_like_the_file() -> None:
    base = SendingConfig()
    assert sending_policy(base, {}, "x") is base
    merged = sending_policy(base, {"per_minute": 2, "typing": False}, "session a's sending")
    assert (merged.per_minute, merged.typing, merged.per_hour) == (2, False, base.per_hour)
    for bad, named in (({"per_minutes": 1}, "per_minutes"), ({"per_minute": -1}, "per_minute"),
                       ({"warmup": [[3, 1], [1, 1]]}, "warmup"), ({"over_limit": "drop"}, "over_limit"),
                       ({"typing": "yes"}, "typing")):
        with pytest.raises(InvalidRequest) as caught:
            sending_policy(base, bad, "session a's sending")
        assert named in str(caught.value) and "session a's sending" in str(caught.value)


def test_warmup_in_the_config_file_is_a_list_of_pairs(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[sending]\nwarmup = [[0, 20], [7, 0]]\n", encoding="utf-8")
    assert config_mod.load(path, env={}).sending.warmup == ((0, 20), (7, 0))
    path.write_text("[sending]\nwarmup = [[0, \"20\"]]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[sending\] warmup in .*config.toml"):
        config_mod.load(path, env={})


def test_an_idempotency_fingerprint_ignores_where_the_file_waits() -> None:
    a = fingerprint(CHAT, "image", {"size": 3, "caption": "x", "path": "/q/1"})
    assert a == fingerprint(CHAT, "image", {"size": 3, "caption": "x", "path": "/q/2"})
    assert a != fingerprint(CHAT, "image", {"size": 3, "caption": "y", "path": "/q/1"})
    assert a != fingerprint(OTHER, "image", {"size": 3, "caption": "x"})
