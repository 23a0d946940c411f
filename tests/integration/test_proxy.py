"""A proxy per session, end to end: real daemon, workers and Chrome, real proxy servers
(Debian's tinyproxy for HTTP with Basic authentication, microsocks for SOCKS5 with user and
password, stunnel4 for TLS in front of tinyproxy), the WhatsApp Web simulator behind them.

The simulator's traffic provably goes through each session's own proxy: the proxy's log names
the simulator's address (the page, and the CONNECT tunnel of its websocket), and the session's
Chrome holds connections to its proxy and to nothing else. The password is never on a command
line, in an environment, in the daemon's log, in an event or in an API answer.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.daemon import Daemon
from tests.support.pages import PageServer
from tests.support.procs import kill_marked
from tests.support.proxies import Microsocks, ProxyServer, Tinyproxy
from tests.support.proxies import free_port as unused_port
from tests.support.tlsproxy import Stunnel, issue_certificate, make_ca, trusting_home
from tests.support.wa import PHONE_A, PHONE_B, login, serving, wa_daemon, wait_event
from tests.support.workerproc import WorkerProc, boot_args
from tests.wasim import RunningSimulator
from worker import protocol

pytestmark = pytest.mark.chrome


def sim_address(sim: RunningSimulator) -> str:
    """The simulator's host:port, as a proxy's log names it."""
    return f"127.0.0.1:{urllib.parse.urlsplit(sim.url).port}"


def processes(d: Daemon, session_id: str) -> tuple[psutil.Process, list[psutil.Process]]:
    """A running session's worker, and its Chrome's processes (main process first)."""
    info = d.session(session_id)
    assert info["worker_pid"] and info["chrome_pid"], info
    worker, chrome = psutil.Process(info["worker_pid"]), psutil.Process(info["chrome_pid"])
    return worker, [chrome, *chrome.children(recursive=True)]


def peer_ports(procs: Iterable[psutil.Process]) -> set[int]:
    """The remote ports of the TCP connections these processes hold."""
    ports = set()
    for proc in procs:
        try:
            ports |= {c.raddr.port for c in proc.net_connections("tcp") if c.raddr}
        except psutil.NoSuchProcess:
            continue
    return ports


def proxy_flag(chrome: psutil.Process) -> str | None:
    """The ``--proxy-server`` value on Chrome's command line, if any."""
    flags = [arg.split("=", 1)[1] for arg in chrome.cmdline() if arg.startswith("--proxy-server=")]
    return flags[-1] if flags else None


def in_processes(secret: str, procs: Iterable[psutil.Process]) -> list[str]:
    """The command lines and environments of ``procs`` that hold ``secret``."""
    found = []
    for proc in procs:
        for name in ("cmdline", "environ"):
            try:
                if secret.encode() in Path(f"/proc/{proc.pid}/{name}").read_bytes():
                    found.append(f"/proc/{proc.pid}/{name}")
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def exposed(d: Daemon, secret: str, procs: Iterable[psutil.Process]) -> list[str]:
    """Where ``secret`` shows: command lines and environments of ``procs``, the daemon's log,
    the stored events, the API's listing."""
    found = in_processes(secret, procs)
    if secret in d.log():
        found.append("daemon log")
    with sqlite3.connect(f"file:{d.state_dir / 'zapvisor.db'}?mode=ro", uri=True) as db:
        if any(secret in payload for (payload,) in db.execute("SELECT payload FROM events")):
            found.append("events")
    if secret in json.dumps(d.client.get("/api/sessions")):
        found.append("API")
    return found


def assert_through(proxy: ProxyServer, d: Daemon, session_id: str, sim: RunningSimulator) -> None:
    """The session's page and websocket went through ``proxy``, and its Chrome talks to it only."""
    assert proxy.requested(sim_address(sim)), proxy.log()
    _, chrome = processes(d, session_id)
    assert peer_ports(chrome) == {proxy.port}


def test_two_sessions_each_through_its_own_http_proxy_with_and_without_credentials(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    password = f"pw-{secrets.token_hex(8)}"
    with (Tinyproxy(workdir / "open") as open_proxy,
          Tinyproxy(workdir / "closed", user="zap", password=password) as closed_proxy,
          serving(wa_daemon(workdir, free_port, sim, logging={"level": "debug"})) as d):
        plain = d.client.post("/api/sessions", {"id": "plain", "proxy": open_proxy.url})
        authed = d.client.post("/api/sessions", {"id": "authed", "proxy": closed_proxy.url})
        assert plain["proxy"] == f"http://127.0.0.1:{open_proxy.port}"
        assert authed["proxy"] == f"http://zap:***@127.0.0.1:{closed_proxy.port}"
        login(d, sim, "plain", PHONE_A)
        login(d, sim, "authed", PHONE_B)

        assert_through(open_proxy, d, "plain", sim)
        assert_through(closed_proxy, d, "authed", sim)
        tunnel = f"CONNECT {sim_address(sim)} "  # the page's websocket, tunnelled
        assert tunnel in open_proxy.log() and tunnel in closed_proxy.log()
        worker, chrome = processes(d, "authed")
        assert proxy_flag(chrome[0]) == f"http://127.0.0.1:{closed_proxy.port}"
        assert exposed(d, password, [worker, *chrome, *processes(d, "plain")[1]]) == []
        assert d.session("authed")["proxy"] == authed["proxy"]


def test_a_worker_logging_at_debug_never_shows_the_password(workdir: Path, pages: PageServer) -> None:
    password = f"pw-{secrets.token_hex(8)}"
    with (Tinyproxy(workdir / "http", user="zap", password=password) as http_proxy,
          Microsocks(workdir / "socks", user="zap", password=password) as socks):
        for proxy in (http_proxy, socks):
            worker = WorkerProc(workdir / "state", proxy.scheme, log_level="debug")
            try:
                spec = {"scheme": proxy.scheme, "host": "127.0.0.1", "port": proxy.port,
                        "username": "zap", "password": password}
                booted = worker.boot(boot_args(workdir / "state", proxy.scheme, pages.url("/"), proxy=spec))
                assert booted["ok"], booted
                worker.wait_event(protocol.EV_STATE, 30, state="WORKING")
                assert proxy.requested(f"127.0.0.1:{pages.port}")
                chrome = psutil.Process(booted["result"]["chrome_pid"])
                procs = [psutil.Process(worker.proc.pid), chrome, *chrome.children(recursive=True)]
                assert in_processes(password, procs) == []
            finally:
                worker.close()
            log = worker.log_path.read_text()
            assert '"level": "debug"' in log and password not in log


def test_socks5_with_credentials_goes_through_the_relay_and_without_them_directly(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    password = f"p@ss w:rd/{secrets.token_hex(6)}"  # percent-encoded in the URL
    with (Microsocks(workdir / "closed", user="zap", password=password) as closed_socks,
          Microsocks(workdir / "open") as open_socks,
          serving(wa_daemon(workdir, free_port, sim)) as d):
        relayed = d.client.post("/api/sessions", {"id": "relayed", "proxy": closed_socks.url})
        d.client.post("/api/sessions", {"id": "direct", "proxy": open_socks.url})
        assert relayed["proxy"] == f"socks5://zap:***@127.0.0.1:{closed_socks.port}"
        login(d, sim, "relayed", PHONE_A)
        login(d, sim, "direct", PHONE_B)

        assert closed_socks.requested(sim_address(sim)) and open_socks.requested(sim_address(sim))
        worker, chrome = processes(d, "relayed")
        relay = urllib.parse.urlsplit(proxy_flag(chrome[0])).port
        assert proxy_flag(chrome[0]) == f"socks5://127.0.0.1:{relay}" and relay != closed_socks.port
        assert peer_ports(chrome) == {relay}  # Chrome talks to the worker's relay only,
        assert closed_socks.port in peer_ports([worker])  # which talks to the proxy
        _, direct = processes(d, "direct")
        assert proxy_flag(direct[0]) == f"socks5://127.0.0.1:{open_socks.port}"
        assert peer_ports(direct) == {open_socks.port}
        assert exposed(d, password, [worker, *chrome]) == []
        assert exposed(d, urllib.parse.quote(password, safe=""), [worker, *chrome]) == []


def test_a_proxy_that_refuses_or_fails_fails_the_session_with_its_reason(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    nobody = unused_port()  # connections to it are refused
    wrong = f"bad-{secrets.token_hex(6)}"
    with (Tinyproxy(workdir / "http", user="zap", password="right") as http_proxy,
          Microsocks(workdir / "socks", user="zap", password="right") as socks,
          serving(wa_daemon(workdir, free_port, sim)) as d):
        cases = {
            "wrong": (http_proxy.url_with("zap", wrong), "the proxy rejected the credentials"),
            "missing": (http_proxy.url_with("", ""),
                        "the proxy asks for credentials, and the session's proxy URL has none"),
            "down": (f"http://zap:{wrong}@127.0.0.1:{nobody}",
                     "cannot connect to the proxy (net::ERR_PROXY_CONNECTION_FAILED)"),
            "socks-wrong": (socks.url_with("zap", wrong), "the proxy rejected the credentials"),
            "socks-down": (f"socks5://zap:{wrong}@127.0.0.1:{nobody}",
                           "cannot reach it: Connection refused (net::ERR_SOCKS_CONNECTION_FAILED)"),
        }
        for session_id, (url, _) in cases.items():
            d.client.post("/api/sessions", {"id": session_id, "proxy": url})
        for session_id, (url, reason) in cases.items():
            info = d.wait_state(session_id, "FAILED", timeout=30)
            assert info["restarts"] == 0, info  # exit 3: no restart loop
            assert info["last_error"].endswith(f"proxy {info['proxy']} failed: {reason}"), info
            assert wrong not in json.dumps(info)
        assert not sim.clients()  # no page ever reached the simulator
        assert exposed(d, wrong, []) == []


def test_an_https_proxy_is_used_when_its_certificate_is_trusted_and_refused_when_not(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    trusted, unknown = make_ca(workdir / "ca", "zapvisor test CA"), make_ca(workdir / "other", "unknown CA")
    home = trusting_home(workdir / "home", trusted[0])  # Chrome's NSS database (~/.pki/nssdb)
    with (Tinyproxy(workdir / "tiny", user="zap", password="tls-pw") as tiny,
          Stunnel(workdir / "good", tiny.port, issue_certificate(trusted, workdir / "good"),
                  user="zap", password="tls-pw") as good,
          Stunnel(workdir / "forged", tiny.port, issue_certificate(unknown, workdir / "forged"),
                  user="zap", password="tls-pw") as forged):
        d = wa_daemon(workdir, free_port, sim)
        try:
            d.start(env={"HOME": str(home)})
            d.client.post("/api/sessions", {"id": "tls", "proxy": good.url})
            d.client.post("/api/sessions", {"id": "forged", "proxy": forged.url})
            login(d, sim, "tls", PHONE_A)
            assert good.accepted() and tiny.requested(sim_address(sim))
            _, chrome = processes(d, "tls")
            assert proxy_flag(chrome[0]) == f"https://127.0.0.1:{good.port}"
            assert peer_ports(chrome) == {good.port}

            info = d.wait_state("forged", "FAILED")
            assert info["restarts"] == 0 and info["last_error"].endswith(
                f"proxy https://zap:***@127.0.0.1:{forged.port} failed: the proxy's TLS certificate "
                "is not valid (net::ERR_PROXY_CERTIFICATE_INVALID)"), info
            assert forged.accepted()  # Chrome got that far, and no further
        finally:
            d.stop()
            kill_marked(d.state_dir)


def change(d: Daemon, session_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """PATCH a running session; its answer, and the events from its ``session.updated`` on
    until the session is WORKING again."""
    with sqlite3.connect(f"file:{d.state_dir / 'zapvisor.db'}?mode=ro", uri=True) as db:
        (last,) = db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
    answer = d.client.patch(f"/api/sessions/{session_id}", body)
    updated = wait_event(d, lambda e: e["event"] == "session.updated", "session.updated",
                         after=last, session=session_id)[-1]
    after = wait_event(d, lambda e: e["payload"].get("state") == "WORKING",
                       "session.status,session.restart,session.qr", after=updated["id"], session=session_id)
    return answer, [updated, *after]


def test_changing_the_proxy_restarts_the_session_and_keeps_its_login(
        workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    with (Tinyproxy(workdir / "first") as first,
          Tinyproxy(workdir / "second", user="zap", password="second-pw") as second,
          serving(wa_daemon(workdir, free_port, sim)) as d):
        d.client.post("/api/sessions", {"id": "s", "proxy": first.url})
        login(d, sim, "s", PHONE_A)

        changed, events = change(d, "s", {"proxy": second.url})
        assert changed["proxy"] == f"http://zap:***@127.0.0.1:{second.port}"
        assert events[0]["payload"] == {"changed": ["proxy"], "restart": True, "proxy": changed["proxy"],
                                        "sending": None, "node_tags": None}
        restarts = [e["payload"]["reason"] for e in events if e["event"] == "session.restart"]
        assert restarts == ["proxy changed"]
        assert not [e for e in events if e["event"] == "session.qr"]  # still logged in: no QR
        assert "SCAN_QR_CODE" not in [e["payload"].get("state") for e in events]
        assert d.session("s")["phone_number"] == PHONE_A
        assert_through(second, d, "s", sim)

        # No proxy: a restart, and Chrome connects directly.
        removed, events = change(d, "s", {"proxy": None})
        assert removed["proxy"] is None and events[0]["payload"]["restart"] is True
        assert not [e for e in events if e["event"] == "session.qr"]
        _, chrome = processes(d, "s")
        assert proxy_flag(chrome[0]) is None
        assert urllib.parse.urlsplit(sim.url).port in peer_ports(chrome)

        # A stopped session only stores it; its next start uses it.
        d.client.post("/api/sessions/s/stop")
        stored = d.client.patch("/api/sessions/s", {"proxy": first.url, "metadata": {"team": "a"}})
        assert (stored["state"], stored["proxy"], stored["metadata"]) == ("STOPPED", first.url, {"team": "a"})
        d.client.post("/api/sessions/s/start")
        d.wait_state("s", "WORKING")
        assert_through(first, d, "s", sim)
