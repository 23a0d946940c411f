"""The HTTP API against a real daemon: auth, validation and every error path.

Sessions here are created stopped, so no Chrome is needed; the lifecycle with real Chrome is
in test_sessions.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import API_KEY, Daemon


@pytest.fixture
def daemon(workdir: Path, free_port: int) -> Iterator[Daemon]:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", sessions={"max_sessions": 3},
               server={"max_body_bytes": 4096})
    d.start()
    try:
        yield d
    finally:
        assert d.stop() == 0


def raw(daemon: Daemon, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request with exactly these bytes and headers; (status, decoded JSON body)."""
    req = urllib.request.Request(f"http://127.0.0.1:{daemon.port}{path}", data=body,
                                 method=method, headers=headers if headers is not None
                                 else {"X-Api-Key": API_KEY})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        assert exc.headers["Content-Type"].startswith("application/json"), exc.headers
        return exc.code, json.loads(exc.read())


def test_health_needs_no_key_and_everything_else_does(daemon: Daemon) -> None:
    assert raw(daemon, "GET", "/health", headers={}) == (200, {"status": "ok"})
    status, body = raw(daemon, "GET", "/api/sessions", headers={})
    assert status == 401 and body["error"]["type"] == "Unauthorized"
    assert raw(daemon, "GET", "/api/sessions", headers={"X-Api-Key": "wrong"})[0] == 401
    assert raw(daemon, "GET", "/api/stats", headers={"X-Api-Key": API_KEY[:-1]})[0] == 401
    assert raw(daemon, "GET", "/api/stats", headers={"Authorization": f"Bearer {API_KEY}"})[0] == 200
    assert raw(daemon, "GET", "/api/nothing-here", headers={})[0] == 401


def test_create_list_get_delete_without_chrome(daemon: Daemon) -> None:
    status, created = raw(daemon, "POST", "/api/sessions",
                          json.dumps({"id": "cliente-a", "start": False, "metadata": {"t": 1}}).encode())
    assert status == 201
    assert created["state"] == "STOPPED" and created["metadata"] == {"t": 1}
    assert created["status_url"] == "/api/sessions/cliente-a/status"
    listed = daemon.client.get("/api/sessions")
    assert [s["id"] for s in listed["sessions"]] == ["cliente-a"]
    assert listed["stats"]["by_state"]["STOPPED"] == 1
    assert daemon.client.get("/api/sessions/cliente-a/status") == {
        "id": "cliente-a", "state": "STOPPED", "qr_available": False, "phone_number": None,
        "since": created["since"], "restarts": 0, "detail": "", "last_exit": None, "last_error": None,
        # the replaced systems' names (test_legacy_api.py)
        "sessionId": "cliente-a", "status": "STOPPED", "qrAvailable": False, "phoneNumber": None}
    assert raw(daemon, "DELETE", "/api/sessions/cliente-a") == (200, {"id": "cliente-a", "deleted": True})
    assert raw(daemon, "GET", "/api/sessions/cliente-a")[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("GET", "/api/sessions/..%2Fetc", None, 400, "invalid session id"),
        ("GET", "/api/sessions/..%2F..%2Fzapvisor.db/status", None, 400, "invalid session id"),
        ("POST", "/api/sessions/-x/start", None, 400, "invalid session id"),
        ("POST", "/api/sessions", b'{"id": "../escape"}', 400, "invalid session id"),
        ("POST", "/api/sessions", b'{"id": "' + b"a" * 65 + b'"}', 400, "invalid session id"),
        ("POST", "/api/sessions", b"{not json", 400, "not valid JSON"),
        ("POST", "/api/sessions", b"[1, 2]", 400, "must be a JSON object"),
        ("POST", "/api/sessions", b'{"id": "a", "colour": "red"}', 400, "unknown field(s) colour"),
        ("POST", "/api/sessions", b'{"id": "a", "start": "yes"}', 400, "'start' has the wrong type"),
        ("GET", "/api/sessions/ghost", None, 404, "session 'ghost' does not exist"),
        ("POST", "/api/sessions/ghost/stop", None, 404, "does not exist"),
        ("DELETE", "/api/sessions/ghost", None, 404, "does not exist"),
        ("GET", "/api/nothing-here", None, 404, "no route"),
        ("PUT", "/api/sessions", b"{}", 405, "Method Not Allowed"),
    ],
)
def test_bad_requests_get_clear_json_errors(daemon: Daemon, method: str, path: str,
                                            body: bytes | None, status: int, needle: str) -> None:
    got, payload = raw(daemon, method, path, body)
    assert got == status, payload
    assert needle in payload["error"]["message"]
    assert "Traceback" not in json.dumps(payload)


def test_conflict_limit_and_size_errors_lose_nothing(daemon: Daemon) -> None:
    for name in ("a", "b"):
        assert raw(daemon, "POST", "/api/sessions", json.dumps({"id": name, "start": False}).encode())[0] == 201
    status, body = raw(daemon, "POST", "/api/sessions", b'{"id": "a", "start": false}')
    assert status == 409 and "already exists" in body["error"]["message"]
    assert raw(daemon, "POST", "/api/sessions", b'{"id": "c", "start": false}')[0] == 201
    status, body = raw(daemon, "POST", "/api/sessions", b'{"id": "d", "start": false}')
    assert status == 429 and "max_sessions (3)" in body["error"]["message"]
    big = json.dumps({"id": "e", "metadata": {"x": "y" * 10000}}).encode()
    status, body = raw(daemon, "POST", "/api/sessions", big)
    assert status == 413 and body["error"]["type"] == "PayloadTooLarge"
    ids = sorted(s["id"] for s in daemon.client.get("/api/sessions")["sessions"])
    assert ids == ["a", "b", "c"]
