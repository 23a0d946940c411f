"""Webhooks: which receivers want which events, how requests are signed, and the facade the
daemon and the API use (journal for the bus, per-session hooks, deliveries, the delivery loop).

Receivers: the global one (config ``[webhooks] url``, every session's events) and each
session's own (``"webhooks": [{"url", "events", "secret"}]`` on create, or
``PUT /api/sessions/{id}/webhooks``). Both take an event filter (names or ``family.*``).

Signature: ``X-Zapvisor-Signature: sha256=<hex>``, the HMAC-SHA256 with the receiver's secret of
``<X-Zapvisor-Timestamp> + "." + <raw body>``. Receivers should check it with a constant-time
compare, refuse stale timestamps, and dedupe by ``X-Zapvisor-Event-Id``: delivery is at least
once. The API key is never sent to a receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from supervisor.errors import InvalidRequest
from supervisor.events.bus import EVENT_PATTERN, Event, matches
from supervisor.events.delivery import Deliverer, DeliveryObserver, sign, verify
from supervisor.events.netguard import check_receivers
from supervisor.events.outbox import Delivery, Outbox, Target
from supervisor.logs import get_logger
from supervisor.netpolicy import url_problem
from supervisor.settings import WebhooksConfig

__all__ = ["Hook", "Webhooks", "parse_hooks", "sign", "verify", "MAX_HOOKS_PER_SESSION"]

MAX_HOOKS_PER_SESSION = 10
_log = get_logger()


@dataclass(frozen=True)
class Hook:
    """One receiver: its URL, the events it wants (empty: all) and its signing secret."""

    url: str
    events: tuple[str, ...] = ()
    secret: str = ""

    def wants(self, name: str) -> bool:
        """True if this receiver selected events called ``name``."""
        return matches(self.events, name)

    def public(self) -> dict[str, Any]:
        """As JSON for the API: whether a secret is set, never the secret."""
        return {"url": self.url, "events": list(self.events), "secret_set": bool(self.secret)}


def parse_hooks(value: object, allow_private: bool = False) -> list[Hook]:
    """Validate a ``"webhooks"`` field: a list of ``{"url", "events"?, "secret"?}``; each URL
    as netpolicy says (a valid host; no private address unless ``allow_private``). Where the
    host names resolve is for :meth:`Webhooks.check_receivers`."""
    if not isinstance(value, list):
        raise InvalidRequest("'webhooks' must be a list of {\"url\", \"events\", \"secret\"}")
    if len(value) > MAX_HOOKS_PER_SESSION:
        raise InvalidRequest(f"at most {MAX_HOOKS_PER_SESSION} webhooks per session")
    hooks = []
    for n, item in enumerate(value):
        where = f"webhooks[{n}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where} must be an object with a 'url'")
        unknown = sorted(set(item) - {"url", "events", "secret"})
        if unknown:
            raise InvalidRequest(f"{where}: unknown field(s) {', '.join(unknown)}; "
                                 "allowed: url, events, secret")
        url, events, secret = item.get("url"), item.get("events", []), item.get("secret", "")
        if not isinstance(url, str):
            raise InvalidRequest(f"{where}.url must be an http:// or https:// URL, got {url!r}")
        problem = url_problem(url, allow_private)
        if problem is not None:
            raise InvalidRequest(f"{where}.url {url[:200]!r} {problem}")
        if not isinstance(events, list) or not all(
                isinstance(e, str) and EVENT_PATTERN.fullmatch(e) for e in events):
            raise InvalidRequest(f"{where}.events must list event names such as "
                                 f"'session.status' or 'session.*', got {events!r}")
        if not isinstance(secret, str):
            raise InvalidRequest(f"{where}.secret must be a string")
        hooks.append(Hook(url, tuple(events), secret))
    return hooks


class Webhooks:
    """Receivers, the outbox and the delivery loop, for the bus, the daemon and the API."""

    def __init__(self, config: WebhooksConfig, outbox: Outbox,
                 observer: DeliveryObserver | None = None) -> None:
        self.outbox = outbox
        self.allow_private = config.allow_private_networks
        self.global_hook = Hook(config.url, config.events, config.secret) if config.url else None
        self._hooks: dict[str, list[Hook]] = {
            session: [Hook(h["url"], tuple(h["events"]), h["secret"]) for h in stored]
            for session, stored in outbox.session_hooks().items()
        }
        self.deliverer = Deliverer(config, outbox, observer)
        #: Told the id of a session whose webhooks were set here (a cluster node shares them, so
        #: that the node a session moves to knows them).
        self.on_change: Callable[[str], None] | None = None

    def targets(self, event: Event) -> list[Target]:
        """The receivers of ``event``: the global one, then the session's own; one per URL."""
        hooks: Iterable[Hook] = self._hooks.get(event["session"] or "", [])
        if self.global_hook is not None:
            hooks = [self.global_hook, *hooks]
        found: dict[str, Target] = {}
        for hook in hooks:
            if hook.wants(event["event"]) and hook.url not in found:
                found[hook.url] = Target(hook.url, hook.secret)
        return list(found.values())

    def store_event(self, event: Event) -> None:
        """The bus's journal: store the event and its deliveries, then wake their lanes."""
        lanes, full = self.outbox.record(event, self.targets(event))
        self.deliverer.wake(lanes)
        for session, url in full:
            self.deliverer.overflowed(session, url)

    def on_event(self, event: Event) -> None:
        """Bus listener: a deleted session's webhooks go with it (its last events, already in
        the outbox, are still delivered)."""
        if event["event"] == "session.deleted" and event["session"] in self._hooks:
            self.set_session_hooks(event["session"], [])

    def parse(self, value: object) -> list[Hook]:
        """:func:`parse_hooks` under this daemon's ``allow_private_networks``."""
        return parse_hooks(value, self.allow_private)

    async def check_receivers(self, hooks: list[Hook]) -> None:
        """InvalidRequest unless every hook's host resolves to public addresses only (when
        private ones are not allowed): the set-time half of the SSRF rule."""
        await check_receivers([hook.url for hook in hooks], self.allow_private)

    def session_hooks(self, session: str) -> list[Hook]:
        """A session's own webhooks."""
        return list(self._hooks.get(session, []))

    def set_session_hooks(self, session: str, hooks: list[Hook], shared: bool = True) -> None:
        """Replace a session's webhooks; deliveries already queued keep their URL and secret.
        ``shared`` False: they come from the cluster (the session moved here), nobody is told."""
        self.outbox.set_session_hooks(
            session, [{"url": h.url, "events": h.events, "secret": h.secret} for h in hooks])
        if hooks:
            self._hooks[session] = list(hooks)
        else:
            self._hooks.pop(session, None)
        _log.info("webhooks.session_set", session_id=session, count=len(hooks), shared=shared)
        if shared and self.on_change is not None:
            self.on_change(session)

    def retry(self, delivery_id: int) -> Delivery:
        """Re-queue a failed delivery; it is sent next in its lane."""
        delivery = self.outbox.requeue(delivery_id)
        _log.info("webhooks.requeued", delivery_id=delivery_id, url=delivery.url)
        self.deliverer.wake([delivery.lane])
        return delivery

    async def run(self) -> None:
        """The delivery loop, until :meth:`stop` (owned by the daemon's TaskGroup)."""
        await self.deliverer.run()

    def stop(self) -> None:
        """End the delivery loop; what is pending stays in the database for the next start."""
        self.deliverer.stop()
