"""The webhook delivery loop: one task per lane, signed POSTs, backoff, give-up rules.

Each lane (session, url) has at most one task, which sends the lane's oldest pending delivery,
records the outcome, and moves on: one request in flight per session and receiver, so each
session's events arrive in order. At most ``max_in_flight`` requests run at once overall.

Outcomes: 2xx → delivered. 408, 429, 5xx, timeouts, connection errors and any other failure
of the attempt → retried after ``retry_initial_s * 2**(n-1)`` (capped at ``retry_max_s``,
±``retry_jitter``; a 429's ``Retry-After`` is honoured up to the cap). Any other 3xx/4xx →
failed at once (retrying cannot help), and so is a receiver on an address webhooks may not reach
(``events.netguard``). Past ``max_attempts`` or ``max_age_s`` → failed. Failed deliveries stay
listed and can be re-queued by hand. What is kept of a refusal is its status and the length of
its body, never the body (a receiver's answer is not ours to show). HTTP never runs inside a
database transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Iterable
from typing import Protocol

import aiohttp

from supervisor.aio import wait_event
from supervisor.events.lanes import Delivery, Lane, LaneStore
from supervisor.events.netguard import BlockedAddress, PublicResolver
from supervisor.logs import get_logger
from supervisor.netpolicy import url_problem
from supervisor.settings import WebhooksConfig

__all__ = ["Deliverer", "DeliveryObserver", "sign", "verify", "backoff_s", "HEADERS"]

#: Request headers: the event's id (receivers dedupe by it), name, the signing timestamp,
#: the signature, and this delivery's id and attempt number.
HEADERS = {
    "event_id": "X-Zapvisor-Event-Id",
    "event": "X-Zapvisor-Event",
    "timestamp": "X-Zapvisor-Timestamp",
    "signature": "X-Zapvisor-Signature",
    "delivery": "X-Zapvisor-Delivery",
    "attempt": "X-Zapvisor-Attempt",
}
_RETRIED_4XX = frozenset({408, 429})
_OVERFLOW_LOG_S = 60.0
_BODY_COUNTED = 64 * 1024  # of a refusal's body, at most this much is read (to give its length)
_log = get_logger()


async def _body_length(resp: aiohttp.ClientResponse) -> str:
    read = len(await resp.content.read(_BODY_COUNTED + 1))
    return f"more than {_BODY_COUNTED} bytes" if read > _BODY_COUNTED else f"{read} bytes"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Zapvisor-Signature`` value: HMAC-SHA256 of ``timestamp + "." + body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: True if ``signature`` is this body's, signed with ``secret``."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff_s(config: WebhooksConfig, attempts: int, rng: random.Random,
              retry_after_s: float | None = None) -> float:
    """The wait after the ``attempts``-th failed attempt."""
    base = min(config.retry_max_s, config.retry_initial_s * 2 ** (attempts - 1))
    delay = base * rng.uniform(1 - config.retry_jitter, 1 + config.retry_jitter)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, config.retry_max_s))
    return delay


class DeliveryObserver(Protocol):
    """Told of every attempt (metrics)."""

    def webhook_attempt(self, outcome: str, reason: str, latency_s: float | None,
                        age_s: float) -> None:
        """``outcome``: delivered, retry or failed; ``reason``: ok, http_3xx/4xx/5xx,
        timeout, connection, blocked (not a public address), error (anything else), expired,
        max_attempts; ``latency_s``: the request's duration
        (None if none was sent); ``age_s``: since the delivery was queued."""

    def webhook_overflow(self) -> None:
        """An event was not queued for a receiver whose lane is full (stored as failed)."""


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: our own backoff applies


class Deliverer:
    """Runs the lanes. ``run()`` belongs to the daemon's TaskGroup; ``wake()`` is called by
    the bus's journal whenever deliveries are queued."""

    def __init__(self, config: WebhooksConfig, outbox: LaneStore,
                 observer: DeliveryObserver | None = None, rng: random.Random | None = None) -> None:
        self._cfg = config
        self._outbox = outbox
        self._observer = observer
        self._rng = rng or random.Random()
        self._lanes: dict[Lane, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._http: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._overflow_logged: dict[Lane, float] = {}
        self._stopping = asyncio.Event()

    @property
    def active_lanes(self) -> int:
        """Lanes with a task now (sending, or waiting for a retry)."""
        return len(self._lanes)

    def wake(self, lanes: Iterable[Lane]) -> None:
        """Make sure each lane has a task, and have waiting ones look at their head again."""
        if self._tg is None:
            return  # not running: run() starts from what the database holds
        for lane in lanes:
            entry = self._lanes.get(lane)
            if entry is not None:
                entry[1].set()
                continue
            woken = asyncio.Event()
            task = self._tg.create_task(self._lane(lane, woken), name=f"webhook-lane:{lane[0]}")
            self._lanes[lane] = (task, woken)

    def overflowed(self, session: str, url: str) -> None:
        """A delivery was stored as failed because its lane is full: counted, and logged at
        most once a minute per lane (a dead receiver would otherwise log every event)."""
        if self._observer is not None:
            self._observer.webhook_overflow()
        now = time.monotonic()
        if now - self._overflow_logged.get((session, url), -_OVERFLOW_LOG_S) >= _OVERFLOW_LOG_S:
            self._overflow_logged[(session, url)] = now
            _log.warning("webhooks.lane_full", session_id=session or None, url=url,
                         max_pending=self._cfg.max_pending_per_receiver)

    def stop(self) -> None:
        """Ask ``run()`` to end (in-flight requests are abandoned: they stay pending)."""
        self._stopping.set()

    async def run(self) -> None:
        """Deliver until :meth:`stop`."""
        # Every connection's addresses are checked, not only the ones seen when the hook was set.
        resolver = None if self._cfg.allow_private_networks else PublicResolver()
        connector = aiohttp.TCPConnector(limit=self._cfg.max_in_flight, resolver=resolver)
        timeout = aiohttp.ClientTimeout(total=self._cfg.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         headers={"User-Agent": "zapvisor-webhooks"}) as http:
            self._http = http
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                lanes = self._outbox.pending_lanes()
                _log.info("webhooks.started", pending_lanes=len(lanes),
                          pending=self._outbox.pending_count())
                self.wake(lanes)
                try:
                    await self._stopping.wait()
                finally:
                    self._tg = None
                    for task, _ in self._lanes.values():
                        task.cancel()
        _log.info("webhooks.stopped", pending=self._outbox.pending_count())

    async def _lane(self, lane: Lane, woken: asyncio.Event) -> None:
        try:
            while True:
                woken.clear()
                delivery = self._outbox.head(lane)
                if delivery is None:
                    return  # nothing left: the next wake() starts a new task
                # next_at is wall time because it is stored; cap the wait so that a clock
                # step cannot park a lane for long.
                wait_s = min(delivery.next_at - time.time(), self._cfg.retry_max_s)
                if wait_s > 0:
                    await wait_event(woken, wait_s)  # not wait_for: see supervisor/aio.py
                    continue
                try:
                    await self._attempt(delivery)
                except Exception:
                    # A bug or an unwritable database: keep the lane, try again later.
                    _log.exception("webhooks.lane_error", session_id=lane[0], url=lane[1])
                    await asyncio.sleep(self._cfg.retry_initial_s)
        finally:
            self._lanes.pop(lane, None)

    async def _attempt(self, delivery: Delivery) -> None:
        age_s = time.time() - delivery.created_at
        if age_s > self._cfg.max_age_s:
            self._settle(delivery, delivery.attempts, None, None,
                         f"expired: older than max_age_s ({self._cfg.max_age_s:g}s); "
                         f"last error: {delivery.last_error}", "expired", age_s)
            return
        attempts = delivery.attempts + 1
        started = time.monotonic()
        async with self._slots:
            status, error, retry_after, reason = await self._send(delivery, attempts)
        latency = time.monotonic() - started
        if status is not None and status >= 300:
            reason = f"http_{status // 100}xx"
        self._settle(delivery, attempts, status, retry_after, error, reason, age_s, latency)

    async def _send(self, delivery: Delivery, attempts: int) -> tuple[int | None, str, float | None, str]:
        """One POST: (status, error, Retry-After, reason). Whatever goes wrong is an outcome
        here (a failed attempt), never an exception that would leave the delivery unattempted."""
        assert self._http is not None
        problem = url_problem(delivery.url, self._cfg.allow_private_networks)
        if problem is not None:  # a literal address never reaches the resolver
            return None, f"refused: {problem}", None, "blocked"
        body = self._body(delivery)
        try:
            async with self._http.post(delivery.url, data=body, allow_redirects=False,
                                       headers=self._headers(delivery, attempts, body)) as resp:
                if resp.status < 300:
                    return resp.status, "", None, "ok"
                return (resp.status, f"HTTP {resp.status} ({await _body_length(resp)})",
                        _retry_after(resp.headers.get("Retry-After")), "ok")
        except TimeoutError:
            return None, f"no answer within {self._cfg.timeout_s:g}s", None, "timeout"
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                return None, f"refused: {exc.os_error}", None, "blocked"
            return None, f"{type(exc).__name__}: {exc}", None, "connection"
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}", None, "connection"
        except Exception as exc:  # e.g. UnicodeError from an unusable host: still an attempt
            _log.warning("webhooks.attempt_error", delivery_id=delivery.id, url=delivery.url,
                         error=repr(exc))
            return None, f"{type(exc).__name__}: {exc}", None, "error"

    def _settle(self, delivery: Delivery, attempts: int, status: int | None,
                retry_after: float | None, error: str, reason: str, age_s: float,
                latency: float | None = None) -> None:
        log = _log.bind(delivery_id=delivery.id, event_id=delivery.event_id,
                        session_id=delivery.session or None, url=delivery.url, attempts=attempts)
        if reason == "ok":
            self._outbox.delivered(delivery, attempts, status or 0)
            outcome = "delivered"
            log.debug("webhooks.delivered", status=status, latency_ms=round((latency or 0) * 1000))
        elif reason in ("expired", "blocked") or (status is not None and status < 500
                                                  and status not in _RETRIED_4XX):
            self._outbox.failed(delivery, attempts, status, error)
            outcome = "failed"
            log.warning("webhooks.failed", status=status, error=error)
        elif attempts >= self._cfg.max_attempts:
            self._outbox.failed(delivery, attempts, status,
                                f"gave up after {attempts} attempts; last: {error}")
            outcome, reason = "failed", "max_attempts"
            log.warning("webhooks.failed", status=status, error=error, reason=reason)
        else:
            delay = backoff_s(self._cfg, attempts, self._rng, retry_after)
            self._outbox.retry_at(delivery, attempts, time.time() + delay, status, error)
            outcome = "retry"
            log.info("webhooks.retry", status=status, error=error, delay_s=round(delay, 2))
        if self._observer is not None:
            self._observer.webhook_attempt(outcome, reason, latency, age_s)

    @staticmethod
    def _body(delivery: Delivery) -> bytes:
        return json.dumps(delivery.event, separators=(",", ":")).encode()

    @staticmethod
    def _headers(delivery: Delivery, attempts: int, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            HEADERS["event_id"]: str(delivery.event_id),
            HEADERS["event"]: delivery.event["event"],
            HEADERS["timestamp"]: timestamp,
            HEADERS["delivery"]: str(delivery.id),
            HEADERS["attempt"]: str(attempts),
        }
        if delivery.secret:
            headers[HEADERS["signature"]] = sign(delivery.secret, timestamp, body)
        return headers
