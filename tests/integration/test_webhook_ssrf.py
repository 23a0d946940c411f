"""Webhooks cannot be turned against the host's own network (SSRF): receivers on loopback,
private, link-local, ... addresses are refused when set and again at every connection, unless
``[webhooks] allow_private_networks = true``; a refused delivery shows its status and the length
of the receiver's answer, never the answer. No Chrome: sessions are created stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from supervisor.errors import InvalidRequest
from tests.support.daemon import API_KEY, Daemon, write_config
from tests.support.hosts import REBOUND, own_hosts
from tests.support.procs import wait_until
from tests.support.receiver import Receiver

PRIVATE = ["http://127.0.0.1:8083/api/sessions", "http://[::1]:9/", "http://localhost:9/",
           "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::ffff:127.0.0.1]/",
           "http://0.0.0.0:9/", "http://100.64.0.1/"]


def test_receivers_on_private_addresses_are_refused_when_set(plain_daemon: Daemon) -> None:
    d = plain_daemon
    d.client.post("/api/sessions", {"id": "s", "start": False})
    for url in PRIVATE:
        for call in (lambda: d.client.post("/api/sessions", {"id": "new", "start": False,
                                                             "webhooks": [{"url": url}]}),
                     lambda: d.client.request("PUT", "/api/sessions/s/webhooks", {"webhooks": [{"url": url}]})):
            with pytest.raises(InvalidRequest) as refused:
                call()
            assert "allow_private_networks" in refused.value.message, url
    # A host name DNS cannot take is refused when set, not in every delivery attempt.
    with pytest.raises(InvalidRequest, match="1 to 63"):
        d.client.request("PUT", "/api/sessions/s/webhooks", {"webhooks": [{"url": f"https://{'a' * 64}.example/"}]})
    assert d.client.get("/api/sessions/s/webhooks")["webhooks"] == []


def test_a_name_that_resolves_to_a_private_address_is_refused_at_connect_time(
        workdir: Path, free_port: int) -> None:
    """The config's URL names a host (no DNS when it is read); its address is only known, and
    refused, when the delivery connects: as it would be after a DNS rebinding."""
    assert os.geteuid() == 0, "the suite runs as root (as CI does): the daemon gets its own /etc/hosts"
    with Receiver() as rx:
        url = f"http://{REBOUND}:{rx.port}/hook"
        d = Daemon(workdir, free_port, "http://127.0.0.1:9/",
                   webhooks={"url": url, "retry_initial_s": 0.05, "retry_max_s": 0.1})
        d.start(preexec_fn=own_hosts(workdir))
        try:
            d.client.post("/api/sessions", {"id": "s", "start": False})
            wait_until(lambda: d.client.get("/api/webhooks")["deliveries"]["failed"] >= 1, 20,
                       message="the delivery refused")
            failed = d.client.get("/api/webhooks/deliveries?status=failed")["deliveries"][0]
            assert failed["attempts"] == 1 and failed["last_error"].startswith(f"refused: {REBOUND} resolves to")
            assert rx.requests() == []  # nothing ever reached the receiver
            assert 'zapvisor_webhook_attempt_errors_total{reason="blocked"} 1.0' in _metrics(d)
            # Set through the API, the same name is refused at once: its addresses are looked up.
            with pytest.raises(InvalidRequest, match="allow_private_networks"):
                d.client.request("PUT", "/api/sessions/s/webhooks", {"webhooks": [{"url": url}]})
        finally:
            assert d.stop() == 0


def _metrics(d: Daemon) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{d.port}/metrics", headers={"X-Api-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.read().decode())


def test_the_config_refuses_a_private_receiver(workdir: Path) -> None:
    config = write_config(workdir / "config.toml", {"webhooks": {"url": "http://169.254.169.254/x"}})
    result = subprocess.run([sys.executable, "-m", "supervisor", "--config", str(config), "serve"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "[webhooks] url" in result.stderr and "allow_private_networks" in result.stderr


def test_a_refused_delivery_shows_the_status_and_length_never_the_answer(
        workdir: Path, free_port: int) -> None:
    with Receiver(status=400) as rx:  # answers "refused": 7 bytes
        d = Daemon(workdir, free_port, "http://127.0.0.1:9/",
                   webhooks={"url": rx.url(), "allow_private_networks": True})
        d.start()
        try:
            d.client.post("/api/sessions", {"id": "s", "start": False})
            wait_until(lambda: d.client.get("/api/webhooks")["deliveries"]["failed"] >= 1, 20,
                       message="the delivery failed")
            failed = d.client.get("/api/webhooks/deliveries?status=failed")["deliveries"][0]
            assert failed["last_status"] == 400 and failed["last_error"] == "HTTP 400 (7 bytes)"
            one = d.client.get(f"/api/webhooks/deliveries/{failed['id']}")
            assert "refused" not in str(one)
        finally:
            assert d.stop() == 0
