"""Configurable caps on what clients may hold open or pile up: event streams ([events]
max_sse_clients: one more is a 503) and pending webhook deliveries per receiver ([webhooks]
max_pending_per_receiver: past it an event is stored as failed, not queued, and counted)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from supervisor.events.bus import EventBus
from supervisor.events.outbox import Outbox
from supervisor.events.webhooks import Webhooks
from supervisor.metrics import Metrics
from supervisor.settings import WebhooksConfig
from supervisor.store import Store
from tests.support.daemon import API_KEY, Daemon
from tests.support.procs import wait_until
from tests.support.sse import SSEClient


def test_event_streams_past_the_cap_get_503(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", events={"max_sse_clients": 2})
    d.start()
    url = f"http://127.0.0.1:{free_port}/api/events"
    try:
        with SSEClient(url, API_KEY) as first, SSEClient(url, API_KEY):
            assert first.status == 200
            with pytest.raises(urllib.error.HTTPError) as refused:
                SSEClient(url, API_KEY)
            assert refused.value.code == 503 and b"max_sse_clients" in refused.value.read()
        # Closed ones free their places (the daemon sees the hang-up at its next write or ping).
        d.client.post("/api/sessions", {"id": "wake", "start": False})
        def accepted() -> bool:
            try:
                with SSEClient(url, API_KEY) as again:
                    return again.status == 200
            except urllib.error.HTTPError:
                return False

        wait_until(accepted, timeout=5, interval=0.1, message="a stream accepted after the others closed")
        request = urllib.request.Request(f"http://127.0.0.1:{free_port}/metrics", headers={"X-Api-Key": API_KEY})
        metrics = urllib.request.urlopen(request, timeout=10).read().decode()
        assert "zapvisor_sse_clients_refused_total 1.0" in metrics
    finally:
        assert d.stop() == 0


@pytest.mark.asyncio
async def test_a_full_receiver_queue_stores_new_events_as_failed_and_counts_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "z.db")
    outbox = Outbox(store, history=100, keep_failed=100, max_pending_per_lane=3)
    metrics = Metrics()
    webhooks = Webhooks(WebhooksConfig(url="https://receiver.example/down", max_pending_per_receiver=3),
                        outbox, observer=metrics)  # not running: deliveries stay pending
    bus = EventBus(journal=webhooks.store_event)
    for n in range(5):
        bus.publish("session.status", "s1", {"n": n})
    bus.publish("session.status", "s2", {"n": 0})  # another session: another lane, not full
    assert outbox.counts() == {"pending": 4, "delivered": 0, "failed": 2}
    failed = outbox.select("failed", None, 10)
    assert {d.event["payload"]["n"] for d in failed} == {3, 4}
    assert all("max_pending_per_receiver" in (d.last_error or "") for d in failed)
    assert 'zapvisor_webhook_deliveries_total{outcome="overflow"} 2.0' in metrics.render().decode()
    webhooks.retry(failed[0].id)  # still retryable by hand
    assert outbox.counts()["pending"] == 5
    store.close()
