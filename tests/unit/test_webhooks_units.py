"""Webhook pieces on their own: backoff, signatures, hook validation, and the delivery loop's
give-up rules (in-process, against a real receiver)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from supervisor.errors import InvalidRequest
from supervisor.events.bus import EventBus
from supervisor.events.delivery import backoff_s, sign, verify
from supervisor.events.outbox import Outbox
from supervisor.events.webhooks import Hook, Webhooks, parse_hooks
from supervisor.settings import WebhooksConfig
from supervisor.store import Store
from tests.support.receiver import Receiver


def test_backoff_doubles_is_capped_jittered_and_honours_retry_after() -> None:
    cfg = WebhooksConfig(retry_initial_s=1.0, retry_max_s=10.0, retry_jitter=0.2)
    rng = random.Random(7)
    for attempts, base in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)):
        delays = [backoff_s(cfg, attempts, rng) for _ in range(200)]
        assert base * 0.8 <= min(delays) and max(delays) <= base * 1.2
        assert max(delays) - min(delays) > base * 0.2  # really jittered
    assert backoff_s(cfg, 1, rng, retry_after_s=5.0) >= 5.0
    assert backoff_s(cfg, 1, rng, retry_after_s=500.0) == 10.0  # never beyond the cap


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":1}'
    signature = sign("k", "1700000000", body)
    assert signature == "sha256=" + __import__("hmac").new(
        b"k", b"1700000000." + body, "sha256").hexdigest()
    assert verify("k", "1700000000", body, signature)
    assert not verify("other", "1700000000", body, signature)
    assert not verify("k", "1700000001", body, signature)  # the timestamp is signed too
    assert not verify("k", "1700000000", body + b" ", signature)


def test_hooks_are_validated_and_never_show_their_secret() -> None:
    hooks = parse_hooks([{"url": "https://x.example/h", "events": ["message.*"], "secret": "s"}])
    assert hooks == [Hook("https://x.example/h", ("message.*",), "s")]
    assert hooks[0].wants("message.ack") and not hooks[0].wants("session.status")
    assert hooks[0].public() == {"url": "https://x.example/h", "events": ["message.*"],
                                 "secret_set": True}
    for bad, needle in (("x", "must be a list"), ([{"url": "http://a"}] * 11, "at most 10"),
                        ([5], "must be an object"), ([{"events": []}], "url")):
        with pytest.raises(InvalidRequest, match=needle):
            parse_hooks(bad)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true, with a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def run_loop(tmp_path: Path, rx: Receiver, **cfg: object) -> tuple[dict[str, int], list[str]]:
    """Publish one event to a webhook with these settings; run the loop until it settles."""
    store = Store(tmp_path / "z.db")
    outbox = Outbox(store, history=100, keep_failed=10)
    webhooks = Webhooks(WebhooksConfig(url=rx.url(), allow_private_networks=True, **cfg), outbox)  # type: ignore[arg-type]
    bus = EventBus(journal=webhooks.store_event)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(webhooks.run())
            await wait_for(lambda: webhooks.deliverer.active_lanes == 0)
            bus.publish("e", "a", {})
            await wait_for(lambda: outbox.counts()["pending"] == 0)
            webhooks.stop()
        return outbox.counts(), [d.last_error or "" for d in outbox.select(None, None, 10)]
    finally:
        store.close()


@pytest.mark.asyncio
async def test_gives_up_after_max_attempts(tmp_path: Path) -> None:
    with Receiver(status=503) as rx:
        counts, errors = await run_loop(tmp_path, rx, max_attempts=3, retry_initial_s=0.01,
                                        retry_max_s=0.02)
    assert counts["failed"] == 1 and len(rx.requests()) == 3
    assert errors[0].startswith("gave up after 3 attempts; last: HTTP 503")


@pytest.mark.asyncio
async def test_gives_up_past_max_age(tmp_path: Path) -> None:
    with Receiver(status=500) as rx:
        counts, errors = await run_loop(tmp_path, rx, max_age_s=0.2, retry_initial_s=0.05,
                                        retry_max_s=0.1, retry_jitter=0.0)
    assert counts["failed"] == 1 and 1 <= len(rx.requests()) <= 4
    assert errors[0].startswith("expired: older than max_age_s (0.2s)")


@pytest.mark.asyncio
async def test_any_failure_of_an_attempt_counts_as_an_attempt(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only aiohttp's errors: what once was a UnicodeError (a 64-character host label)
    left the delivery at 0 attempts forever, a traceback a second, its lane stuck."""
    def broken_post(*args: object, **kwargs: object) -> object:
        raise UnicodeError("encoding with 'idna' codec failed (UnicodeError: label too long)")

    monkeypatch.setattr(aiohttp.ClientSession, "post", broken_post)
    with Receiver() as rx:
        counts, errors = await run_loop(tmp_path, rx, max_attempts=2, retry_initial_s=0.01,
                                        retry_max_s=0.02)
    assert counts["failed"] == 1 and rx.requests() == []
    assert errors[0] == "gave up after 2 attempts; last: UnicodeError: encoding with 'idna' codec failed " \
                        "(UnicodeError: label too long)"


def test_hook_hosts_are_checked_as_dns_takes_them() -> None:
    assert parse_hooks([{"url": "https://exämple.example/h"}])[0].url == "https://exämple.example/h"
    for bad, needle in (("https://" + "a" * 64 + ".example/", "1 to 63"), ("http://a..b/", "1 to 63"),
                        ("http://127.0.0.1:9/", "loopback"), ("http://[fe80::1]/", "link-local"),
                        ("http://localhost/", "loopback"), ("http://192.168.1.10/", "private")):
        with pytest.raises(InvalidRequest, match=needle):
            parse_hooks([{"url": bad}])
    assert parse_hooks([{"url": "http://127.0.0.1:9/"}], allow_private=True)[0].url == "http://127.0.0.1:9/"
