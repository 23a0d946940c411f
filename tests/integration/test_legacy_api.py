"""The two systems zapvisor replaces, called as their clients call them (issue 11): zapnode's
routes and .env names, WhatsappSessionManager's routes and its Laravel .env update. Real daemon
over real HTTP; the sessions that log in run real Chrome on the WhatsApp Web simulator.

Every request here is written the way the old systems document it, plus the API key header."""

from __future__ import annotations

import json
import os
import signal
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from supervisor.cli.client import Client
from tests.support.daemon import API_KEY, BROWSER_ACCEPT, Daemon
from tests.support.procs import wait_until
from tests.support.wa import (
    PHONE_A,
    PHONE_B,
    PHONE_C,
    png_modules,
    qr_modules,
    serving,
    wa_daemon,
)
from tests.wasim import RunningSimulator, SimError

LARAVEL_ENV = ("APP_NAME=Laravel\nAPP_KEY=base64:c2VjcmV0\n\n# WhatsApp (zapvisor)\n"
               "WHATSAPP_SELLS_SESSION=old\nDB_PASSWORD='p#ss'\n")
KEY = {"X-Api-Key": API_KEY}


def call(d: Daemon, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         port: int | None = None) -> tuple[int, dict[str, str], Any]:
    """One request as an old client sends it: (status, headers, JSON body or raw bytes)."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {**KEY, **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    req = urllib.request.Request(f"http://127.0.0.1:{port or d.port}{path}", data=data,
                                 method=method, headers={k: v for k, v in sent.items() if v})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, got, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, dict(exc.headers), exc.read()
    is_json = got.get("Content-Type", "").startswith("application/json")
    return status, got, json.loads(raw) if is_json else raw


def ok(d: Daemon, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    got, _, answer = call(d, method, path, body)
    assert got == status, (method, path, answer)
    return answer


def refused(d: Daemon, method: str, path: str, body: Any = None) -> tuple[int, str]:
    got, headers, answer = call(d, method, path, body)
    assert got >= 400 and headers["Content-Type"].startswith("application/json"), answer
    assert set(answer["error"]) == {"type", "message"}
    return got, answer["error"]["message"]


# -- without Chrome: negotiation, bad input, the .env rewrite ----------------------------------


@pytest.fixture
def laravel_env(workdir: Path) -> Path:
    app = workdir / "laravel"
    app.mkdir()
    env = app / ".env"
    env.write_text(LARAVEL_ENV)
    os.chmod(env, 0o640)
    if os.geteuid() == 0:
        os.chown(env, 65534, 65534)  # the web server's file, not the daemon's
    return env


@pytest.fixture
def daemon(workdir: Path, free_port: int, laravel_env: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)  # a server: no display
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/",
               roles={"env_file": "laravel/.env", "base_url": "https://wa.example.com"})
    with serving(d):
        yield d


def env_values(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs if key.startswith("WHATSAPP_")}


def test_sessions_pages_for_browsers_json_for_everyone_else(daemon: Daemon) -> None:
    ok(daemon, "POST", "/api/sessions", {"sessionId": "cliente-a", "start": False}, status=201)
    for path in ("/sessions", "/sessions/cliente-a"):
        status, headers, page = call(daemon, "GET", path, headers={"Accept": BROWSER_ACCEPT,
                                                                   "X-Api-Key": ""})
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8", path
        assert b'<script type="module" src="/static/app.js">' in page
        assert headers["Vary"] == "Accept"
        for accept in ("*/*", "", "application/json"):  # curl, a bare script, an API client
            status, headers, body = call(daemon, "GET", path, headers={"Accept": accept})
            assert status == 200 and headers["Content-Type"].startswith("application/json"), path
            assert headers["Vary"] == "Accept" and body["success"] is True
            # ... and the JSON needs the key, like every API route.
            assert call(daemon, "GET", path, headers={"Accept": accept, "X-Api-Key": ""})[0] == 401
    listed = ok(daemon, "GET", "/sessions")
    assert [(s["sessionId"], s["status"]) for s in listed["sessions"]] == [("cliente-a", "STOPPED")]
    assert listed["stats"]["sessions"] == 1
    one = ok(daemon, "GET", "/sessions/cliente-a")
    assert (one["id"], one["sessionId"], one["status"], one["phoneNumber"]) == (
        "cliente-a", "cliente-a", "STOPPED", None)
    assert ok(daemon, "GET", "/sessions/cliente-a/status")["qrAvailable"] is False
    assert ok(daemon, "DELETE", "/sessions/cliente-a") == {
        "success": True, "id": "cliente-a", "sessionId": "cliente-a", "deleted": True}
    assert ok(daemon, "GET", "/sessions")["sessions"] == []


@pytest.mark.parametrize(("method", "path", "body", "status", "needle"), [
    ("POST", "/sessions", {"sessionId": "cliente-a", "headless": False}, 400,
     "neither DISPLAY nor WAYLAND_DISPLAY is set"),
    ("POST", "/sessions", {"sessionId": "cliente-a", "headless": "no"}, 400,
     "'headless' has the wrong type"),
    ("POST", "/api/sessions", {"id": "a", "sessionId": "b"}, 400,
     "id 'a' and sessionId 'b' name two different sessions"),
    ("POST", "/sessions", {"sessionId": "../x"}, 400, "invalid session id"),
    ("GET", "/sessions/ghost", None, 404, "session 'ghost' does not exist"),
    ("GET", "/sessions/ghost/status", None, 404, "session 'ghost' does not exist"),
    ("DELETE", "/sessions/ghost", None, 404, "session 'ghost' does not exist"),
    ("POST", "/api/assign-number", {"sessionId": "s1"}, 400, "field 'type' is required"),
    ("POST", "/api/assign-number", {"type": "sells"}, 400, "field 'sessionId' is required"),
    ("POST", "/api/assign-number", {"sessionId": "ghost", "type": "sells"}, 404, "'ghost' does not exist"),
    ("POST", "/api/assign-number", {"sessionId": "s1", "type": "sells team"}, 400, "invalid role name"),
    ("POST", "/api/assign-number", {"sessionId": "s1", "type": 3}, 400, "'type' has the wrong type"),
    ("POST", "/api/assign-number", {"sessionId": "s1", "type": "a", "x": 1}, 400, "unknown field(s) x"),
    ("POST", "/api/assign-number", ["s1", "sells"], 400, "must be a JSON object"),
    ("POST", "/api/sessions/s1/send-message", {"phoneNumber": "1234567890"}, 400,
     "'text' is required"),
    ("POST", "/sessions/s1/send", {"phoneNumber": "12", "message": "Hola!"}, 400,
     "is not a phone number"),
    ("POST", "/webhook/test", {"phoneNumber": "1234567890", "message": "x"}, 404,
     "the default session 'default' does not exist"),
])
def test_bad_input_is_a_4xx_that_names_it(daemon: Daemon, method: str, path: str, body: Any,
                                         status: int, needle: str) -> None:
    ok(daemon, "POST", "/api/sessions", {"sessionId": "s1", "start": False}, status=201)
    got, message = refused(daemon, method, path, body)
    assert (got, needle in message) == (status, True), message
    assert [s["id"] for s in ok(daemon, "GET", "/api/sessions")["sessions"]] == ["s1"]


def test_concurrent_assignments_rewrite_the_env_file_atomically(daemon: Daemon,
                                                               laravel_env: Path) -> None:
    before = laravel_env.stat()
    original = laravel_env.open()  # a reader that opened the file before the changes
    for name in ("s1", "s2", "s3"):
        ok(daemon, "POST", "/api/sessions", {"sessionId": name, "start": False}, status=201)
    asks = [{"sessionId": f"s{i % 3 + 1}", "type": ("sells", "coordination")[i % 2]}
            for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda body: ok(daemon, "POST", "/api/assign-number", body), asks))
    assert all(a["success"] and a["envFile"]["ok"] for a in answers)
    assert answers[0]["sendUrl"] == f"/api/sessions/{asks[0]['sessionId']}/send-message"

    # The file holds what the roles hold now (the last change won), and nothing else changed.
    current = ok(daemon, "GET", "/api/current-assignments")["assignments"]
    assert sorted(current) == ["coordination", "sells"]
    expected = {}
    for role, entry in current.items():
        assert [m["sessionId"] for m in entry["sessions"]] == [entry["sessionId"]]  # one number
        prefix = f"WHATSAPP_{role.upper()}"
        expected |= {f"{prefix}_SESSION": entry["sessionId"], f"{prefix}_PHONE": "",
                     f"{prefix}_URL": f"https://wa.example.com{entry['sendUrl']}"}
    assert env_values(laravel_env) == expected
    text = laravel_env.read_text()
    assert text.startswith("APP_NAME=Laravel\nAPP_KEY=base64:c2VjcmV0\n\n# WhatsApp (zapvisor)\n"
                           f"WHATSAPP_SELLS_SESSION={current['sells']['sessionId']}\n"
                           "DB_PASSWORD='p#ss'\n")
    after = laravel_env.stat()
    with original:  # replaced by a rename, never written in place: that reader saw no change
        assert os.fstat(original.fileno()).st_nlink == 0 and original.read() == LARAVEL_ENV
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert sorted(p.name for p in laravel_env.parent.iterdir()) == [".env"]

    # zapvisor's own role route (the dashboard's, the CLI's) answers once the file says so too;
    # a role of several sessions is written with its first.
    ok(daemon, "PUT", "/api/roles/support-2", {"sessions": ["s2", "s3"]})
    assert env_values(laravel_env)["WHATSAPP_SUPPORT_2_SESSION"] == "s2"

    # A session deleted takes its role's values with it.
    ok(daemon, "DELETE", f"/api/sessions/{current['sells']['sessionId']}")
    wait_until(lambda: env_values(laravel_env)["WHATSAPP_SELLS_SESSION"] == "", timeout=10,
               message="the deleted session's role emptied in the .env")
    assert env_values(laravel_env)["WHATSAPP_SELLS_URL"] == ""


def test_a_failed_write_is_logged_and_counted_never_a_5xx(daemon: Daemon, laravel_env: Path) -> None:
    ok(daemon, "POST", "/api/sessions", {"sessionId": "s1", "start": False}, status=201)
    moved = laravel_env.parent.with_name("laravel-away")
    laravel_env.parent.rename(moved)  # the app's folder is gone for a while
    answer = ok(daemon, "POST", "/api/assign-number", {"sessionId": "s1", "type": "sells"})
    assert answer["success"] is True and answer["envFile"]["ok"] is False
    assert "No such file or directory" in answer["envFile"]["lastError"]
    assert ok(daemon, "GET", "/api/roles/sells")["sessions"] == ["s1"]  # the change stands
    assert daemon.events("roles.env_file.write_failed")
    moved.rename(laravel_env.parent)
    answer = ok(daemon, "POST", "/api/assign-number", {"sessionId": "s1", "type": "support"})
    assert answer["envFile"] == {"path": str(laravel_env), "ok": True, "failures": 1,
                                 "lastError": None}
    assert env_values(laravel_env)["WHATSAPP_SELLS_SESSION"] == "s1"  # caught up
    metrics = call(daemon, "GET", "/metrics")[2]
    assert b'zapvisor_env_file_writes_total{outcome="failed"} 1.0' in metrics


# -- zapnode's .env names ---------------------------------------------------------------------


def test_zapnode_env_names_configure_the_daemon(workdir: Path, free_port: int,
                                               unused_tcp_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/",
               chrome={"executable": "/usr/lib/chromium/chromium-headless-shell"})
    d.start(wait=False, env={"PORT": "1", "ZAPVISOR_SERVER__PORT": "2"})
    assert d.wait_exit(timeout=30) != 0
    assert ("environment variables PORT='1' and ZAPVISOR_SERVER__PORT='2' disagree on "
            "[server] port") in d.log()

    port = unused_tcp_port  # PORT wins over config.toml, as ZAPVISOR_SERVER__PORT would
    client = Client(f"http://127.0.0.1:{port}", API_KEY, timeout_s=30)
    d.start(wait=False, env={"PORT": str(port), "SESSION_NAME": "principal", "DISPLAY": ":99",
                             "START_DEFAULT_SESSION": "false", "IGNORE_GROUPS": "true"})
    try:
        wait_until(lambda: _answers(client), timeout=30, message=f"the daemon on PORT {port}")
        assert d.events("daemon.ready")[0]["env_aliases"] == [
            "IGNORE_GROUPS", "PORT", "SESSION_NAME", "START_DEFAULT_SESSION"]
        # headless: false with a display reaches the worker, which explains why this install
        # (chrome-headless-shell only) cannot show a window.
        created = client.post("/sessions", {"sessionId": "visible", "headless": False})
        assert created["headless"] is False and created["success"] is True
        wait_until(lambda: client.get("/sessions/visible/status")["status"] == "FAILED",
                   timeout=30, message="the windowed session to fail")
        assert "chrome-headless-shell, which never shows a window" in str(
            client.get("/sessions/visible/status")["last_error"])
        hook = call(d, "POST", "/webhook/test", {"phoneNumber": "1234567890", "message": "x"},
                    port=port)
        assert hook[0] == 404 and "'principal'" in hook[2]["error"]["message"]  # SESSION_NAME
    finally:
        d.signal(signal.SIGTERM)
        assert d.wait_exit(timeout=60) == 0


def _answers(client: Client) -> bool:
    try:
        return bool(client.get("/health")["status"] == "ok")
    except Exception:
        return False


# -- with Chrome: the calls exactly as the old systems document them --------------------------


@pytest.mark.chrome
def test_whatsapp_session_manager_and_zapnode_calls_verbatim(
        workdir: Path, free_port: int, sim: RunningSimulator, laravel_env: Path) -> None:
    d = wa_daemon(workdir, free_port, sim, roles={"env_file": str(laravel_env)})
    with serving(d):
        # WhatsappSessionManager: create, show the QR, read the status, send, assign, list.
        created = ok(d, "POST", "/api/sessions", {"sessionId": "mi-sesion-123"}, status=201)
        assert created["sessionId"] == "mi-sesion-123"
        assert created["qrUrl"] == "/api/sessions/mi-sesion-123/qr"
        assert created["statusUrl"] == "/api/sessions/mi-sesion-123/status"
        wait_until(lambda: ok(d, "GET", created["statusUrl"])["qrAvailable"], timeout=30,
                   message="a QR code on offer")
        status = ok(d, "GET", created["statusUrl"])
        assert status["status"] == "SCAN_QR_CODE" and status["phoneNumber"] is None
        png = _scan_png(d, sim, created["qrUrl"], PHONE_A)
        assert png.startswith(b"\x89PNG")
        wait_until(lambda: ok(d, "GET", created["statusUrl"])["status"] == "WORKING", timeout=30,
                   message="mi-sesion-123 WORKING")
        status = ok(d, "GET", "/api/sessions/mi-sesion-123/status")
        assert (status["qrAvailable"], status["phoneNumber"]) == (False, PHONE_A)
        listed = ok(d, "GET", "/api/sessions")
        assert [(s["sessionId"], s["status"]) for s in listed["sessions"]] == [
            ("mi-sesion-123", "WORKING")] and listed["stats"]["sessions"] == 1
        sent = ok(d, "POST", "/api/sessions/mi-sesion-123/send-message",
                  {"phoneNumber": "1234567890", "message": "Hola!"})
        assert sent["success"] is True
        assert [(m["to"], m["body"]) for m in sim.sent(phone=PHONE_A)] == [("1234567890@c.us", "Hola!")]
        assigned = ok(d, "POST", "/api/assign-number", {"sessionId": "mi-sesion-123", "type": "sells"})
        assert (assigned["phoneNumber"], assigned["previous"]) == (PHONE_A, [])
        base = f"http://127.0.0.1:{d.port}"
        assert env_values(laravel_env) == {
            "WHATSAPP_SELLS_SESSION": "mi-sesion-123", "WHATSAPP_SELLS_PHONE": PHONE_A,
            "WHATSAPP_SELLS_URL": f"{base}/api/sessions/mi-sesion-123/send-message"}
        assert ok(d, "GET", "/api/current-assignments")["assignments"]["sells"] == {
            "sessionId": "mi-sesion-123", "phoneNumber": PHONE_A, "status": "WORKING",
            "sendUrl": "/api/sessions/mi-sesion-123/send-message",
            "sessions": [{"sessionId": "mi-sesion-123", "phoneNumber": PHONE_A, "status": "WORKING",
                          "sendUrl": "/api/sessions/mi-sesion-123/send-message"}]}
        stats = ok(d, "GET", "/api/stats")
        assert [s["id"] for s in stats["per_session"]] == ["mi-sesion-123"] and "messages" in stats

        # The number of a role changes (logged out, another phone linked): the .env follows.
        ok(d, "POST", "/api/sessions/mi-sesion-123/logout")
        wait_until(lambda: env_values(laravel_env)["WHATSAPP_SELLS_PHONE"] == "", timeout=20,
                   message="the logged-out number removed from the .env")
        wait_until(lambda: ok(d, "GET", created["statusUrl"])["status"] == "STOPPED", timeout=30,
                   message="the cleanup after logout")
        ok(d, "POST", "/api/sessions/mi-sesion-123/start")
        wait_until(lambda: ok(d, "GET", created["statusUrl"])["qrAvailable"], timeout=30,
                   message="a new QR code")
        _scan_png(d, sim, created["qrUrl"], PHONE_B)
        wait_until(lambda: env_values(laravel_env)["WHATSAPP_SELLS_PHONE"] == PHONE_B, timeout=30,
                   message="the new number in the .env")
        assert laravel_env.read_text().startswith("APP_NAME=Laravel\nAPP_KEY=base64:c2VjcmV0\n")

        # zapnode: create with headless, list, read, send both ways, delete.
        made = ok(d, "POST", "/sessions", {"sessionId": "cliente-a", "headless": True}, status=201)
        assert made["success"] is True and made["headless"] is True
        wait_until(lambda: ok(d, "GET", "/sessions/cliente-a/status")["qrAvailable"], timeout=30,
                   message="cliente-a's QR code")
        _scan_png(d, sim, "/api/sessions/cliente-a/qr", PHONE_C)
        wait_until(lambda: ok(d, "GET", "/sessions/cliente-a")["status"] == "WORKING", timeout=30,
                   message="cliente-a WORKING")
        assert sorted(s["sessionId"] for s in ok(d, "GET", "/sessions")["sessions"]) == [
            "cliente-a", "mi-sesion-123"]
        assert ok(d, "GET", "/sessions/cliente-a/status")["phoneNumber"] == PHONE_C
        assert ok(d, "POST", "/sessions/cliente-a/send",
                  {"phoneNumber": "1234567890", "message": "Olá!"})["success"] is True
        assert ok(d, "POST", "/webhook/test", {"phoneNumber": "1234567890", "message": "teste",
                                               "sessionId": "cliente-a"})["success"] is True
        assert [m["body"] for m in sim.sent(phone=PHONE_C)] == ["Olá!", "teste"]
        assert ok(d, "DELETE", "/sessions/cliente-a")["deleted"] is True
        assert refused(d, "GET", "/sessions/cliente-a")[0] == 404


def _scan_png(d: Daemon, sim: RunningSimulator, qr_url: str, phone: str) -> bytes:
    """Scan the QR code the PNG at ``qr_url`` shows (as a phone's camera would), rescanning if
    it was replaced in between."""
    shown: list[bytes] = []

    def scanned() -> bool:
        status, _, png = call(d, "GET", qr_url)
        if status != 200:
            return False
        clients = [c for c in sim.clients() if c["qr"] and qr_modules(c["qr"]) == png_modules(png)]
        if len(clients) != 1:
            return False
        try:
            sim.scan(qr=clients[0]["qr"], phone=phone)
        except SimError as exc:
            if exc.status != 409:
                raise
            return False
        shown.append(png)
        return True

    wait_until(scanned, timeout=20, message=f"a scan of {qr_url}")
    return shown[-1]
