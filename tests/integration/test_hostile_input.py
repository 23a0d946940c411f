"""Input the review sent to a running daemon: each answer is a 4xx naming the problem, never a
5xx, and the daemon keeps answering (its listing too, which a stored value once broke for good).
No Chrome: sessions are created stopped."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.support.daemon import API_KEY, Daemon

DEEP_METADATA = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}  # 8 levels: the limit


def _request(d: Daemon, method: str, path: str, body: bytes | None = None,
             headers: dict[str, Any] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    try:
        conn.putrequest(method, path)
        headers = headers or {}
        if not {"X-Api-Key", "Authorization"} & set(headers):
            headers = {"X-Api-Key": API_KEY, **headers}
        for name, value in headers.items():
            conn.putheader(name, value)
        if body is not None:
            if "Content-Type" not in headers:
                conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


_MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}
CASES = [
    # (method, path, body, headers, status, words in the message)
    ("POST", "/api/sessions", b'{"id": "n", "start": false, "metadata": {"x": NaN}}', None, 400, "NaN"),
    ("POST", "/api/sessions", b'{"id": "n", "start": false, "metadata": {"x": -Infinity}}', None, 400, "Infinity"),
    ("POST", "/api/sessions", json.dumps({"id": "n", "start": False, "metadata": {"top": DEEP_METADATA}}).encode(),
     None, 400, "deeper than 8"),
    ("POST", "/api/sessions", json.dumps({"id": "n", "start": False, "metadata": {"x": "y" * 17000}}).encode(),
     None, 400, "16384"),
    ("POST", "/api/sessions", b"[" * 5000 + b"]" * 5000, None, 400, "nested deeper"),
    ("POST", "/api/sessions", b'{"id": "n", "start": false, "metadata": {"x": "\\ud800"}}', None, 400, "surrogate"),
    ("PUT", "/api/sessions/kept/webhooks", b'{"webhooks": [{"url": "https://x.example/", "secret": "\\udfff"}]}',
     None, 400, "surrogate"),
    ("POST", "/api/sessions", b'{"id": "n"', None, 400, "not valid JSON"),
    ("POST", "/api/sessions", b"\xff\xfe{}", None, 400, "not valid JSON"),
    ("GET", "/api/sessions", None, {"X-Api-Key": b"\xff\xfe"}, 401, "API key"),
    ("GET", "/api/sessions", None, {"X-Api-Key": "cl\u00e9".encode("latin-1")}, 401, "API key"),
    ("GET", "/api/sessions", None, {"Authorization": b"Bearer \xff"}, 401, "API key"),
    ("GET", "/api/webhooks/deliveries?limit=%C2%B2", None, None, 400, "limit"),
    ("GET", "/api/webhooks/deliveries?limit=99999999999999999999999", None, None, 400, "limit"),
    ("GET", "/api/webhooks/deliveries?limit=0", None, None, 400, "limit"),
    ("GET", "/api/webhooks/deliveries?limit=%EF%BC%95", None, None, 400, "limit"),  # a fullwidth 5
    ("GET", "/api/webhooks/deliveries/%C2%B2", None, None, 400, "integer"),
    ("GET", "/api/webhooks/deliveries/99999999999999999999999", None, None, 404, "does not exist"),
    ("GET", "/api/webhooks/deliveries/" + "9" * 5000, None, None, 404, "does not exist"),
    ("POST", "/api/webhooks/deliveries/99999999999999999999999/retry", None, None, 404, "does not exist"),
    ("GET", "/api/events", None, {"Last-Event-ID": "\u00b2".encode()}, 400, "Last-Event-ID"),
    ("GET", "/api/events?last_event_id=99999999999999999999999", None, None, 400, "Last-Event-ID"),
    # Multipart uploads that aiohttp's reader cannot parse (the fuzzer found the first: a 500).
    ("POST", "/api/sessions/kept/media", b'--b\r\nContent-Disposition: form-data; name="\xf1\x93\x7f"\r\n'
     b"\r\nx\r\n--b--\r\n", _MULTIPART, 400, "multipart body is malformed"),
    ("POST", "/api/sessions/kept/media", b"--b\r\nContent-Disposition: form-data; name=to\r\n"
     b"Content-Transfer-Encoding: rot13\r\n\r\nx\r\n--b--\r\n", _MULTIPART, 400, "multipart body is malformed"),
    ("POST", "/api/sessions/kept/media", b"--other\r\n\r\nx\r\n--other--\r\n", _MULTIPART, 400,
     "multipart body is malformed"),
]


def test_hostile_input_is_a_4xx_naming_the_problem(plain_daemon: Daemon) -> None:
    """One daemon for all (the leak guard checks after each test, and the daemon's zygote lives
    as long as it does)."""
    d = plain_daemon
    d.client.post("/api/sessions", {"id": "kept", "start": False, "metadata": DEEP_METADATA})
    for method, path, body, headers, status, words in CASES:
        case = f"{method} {path[:60]} {str(body)[:60]} {headers}"
        got, answer = _request(d, method, path, body, headers)
        assert got == status, f"{case}: {answer[:300]!r}"
        assert words in json.loads(answer)["error"]["message"], f"{case}: {answer[:300]!r}"
        # And the daemon answers as before, in valid JSON (NaN would not parse here).
        listed_status, listed = _request(d, "GET", "/api/sessions")
        assert listed_status == 200, case
        sessions = json.loads(listed, parse_constant=lambda name: pytest.fail(f"{name} in the answer"))
        assert [s["metadata"] for s in sessions["sessions"]] == [DEEP_METADATA], case
