"""A session's proxy through the API and the CLI, without Chrome (sessions stay stopped): create
with a proxy, change it with PATCH or ``zapvisor set``, every bad input a 400 that names the
problem and never repeats the password, and the password masked wherever the proxy is shown.
The proxy at work (Chrome, real proxy servers) is in test_proxy.py."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from supervisor.errors import InvalidRequest, NotFound
from tests.integration.test_cli import zapvisor
from tests.support.daemon import Daemon

SECRET = "Pr0xy-S3cret"


def test_create_and_change_a_proxy_shown_masked_everywhere(plain_daemon: Daemon) -> None:
    d = plain_daemon
    created = d.client.post("/api/sessions", {"id": "s", "start": False,
                                              "proxy": f"http://zap:{SECRET}@proxy.example:3128"})
    assert created["proxy"] == "http://zap:***@proxy.example:3128"
    assert d.session("s")["proxy"] == created["proxy"]
    assert d.client.post("/api/sessions", {"id": "bare", "start": False})["proxy"] is None

    changed = d.client.patch("/api/sessions/s", {"proxy": f"socks5://zap:{SECRET}%21@10.1.2.3:1080",
                                                 "metadata": {"team": "sales"}})
    assert (changed["state"], changed["proxy"], changed["metadata"]) == (
        "STOPPED", "socks5://zap:***@10.1.2.3:1080", {"team": "sales"})
    only_metadata = d.client.patch("/api/sessions/s", {"metadata": {}})
    assert only_metadata["proxy"] == changed["proxy"] and only_metadata["metadata"] == {}
    assert d.client.patch("/api/sessions/s", {"proxy": ""})["proxy"] is None
    assert d.client.patch("/api/sessions/s", {"proxy": f"https://zap:{SECRET}@h:443"})["proxy"] == \
        "https://zap:***@h:443"

    with sqlite3.connect(f"file:{d.state_dir / 'zapvisor.db'}?mode=ro", uri=True) as db:
        updates = [json.loads(payload) for (payload,) in
                   db.execute("SELECT payload FROM events WHERE event = 'session.updated'")]
        (options,) = db.execute("SELECT options FROM sessions WHERE id = 's'").fetchone()
    unset = {"sending": None, "node_tags": None}  # every option is shown, set or not
    assert updates == [
        {"changed": ["metadata", "proxy"], "restart": False, "proxy": "socks5://zap:***@10.1.2.3:1080", **unset},
        {"changed": ["metadata"], "restart": False, "proxy": "socks5://zap:***@10.1.2.3:1080", **unset},
        {"changed": ["proxy"], "restart": False, "proxy": None, **unset},
        {"changed": ["proxy"], "restart": False, "proxy": "https://zap:***@h:443", **unset},
    ]
    assert json.loads(options) == {"proxy": f"https://zap:{SECRET}@h:443"}  # the state db (0600) keeps it
    assert SECRET not in d.log() and SECRET not in json.dumps(d.client.get("/api/sessions"))


#: (body, the problem named, whether a create with it fails the same way)
BAD_CHANGES: list[tuple[dict[str, object], str, bool]] = [
    ({"proxy": f"ftp://zap:{SECRET}@h:21"}, "proxy: unsupported scheme 'ftp'", True),
    ({"proxy": f"http://zap:{SECRET}@h"}, "proxy: the URL names no port", True),
    ({"proxy": f"http://zap:{SECRET}@h:99999"}, "proxy: the port must be a number from 1 to 65535", True),
    ({"proxy": f"http://:{SECRET}@h:1"}, "proxy: give both a user name and a password", True),
    ({"proxy": {"url": f"http://zap:{SECRET}@h:1"}}, "field 'proxy' has the wrong type", True),
    ({"proxy": [SECRET]}, "field 'proxy' has the wrong type", True),
    ({"proxy": f"zap:{SECRET}@h:1"}, "proxy: give a URL like", True),
    ({"proxi": "http://h:1"}, "unknown field(s) proxi; allowed: metadata, proxy, sending", False),
    ({}, "nothing to change: give metadata, proxy, sending", False),
    ({"sending": [2]}, "field 'sending' has the wrong type", True),
    ({"sending": {"per_minutes": 2}}, "unknown key [sending] per_minutes in this session's sending", True),
    ({"sending": {"per_minute": -1}}, "[sending] per_minute in this session's sending must be >= 0", True),
    ({"metadata": [1]}, "field 'metadata' has the wrong type", True),
]


def test_bad_changes_are_400s_that_name_the_problem_and_change_nothing(plain_daemon: Daemon) -> None:
    d = plain_daemon
    d.client.post("/api/sessions", {"id": "s", "start": False, "proxy": "http://h:3128"})
    for body, problem, on_create in BAD_CHANGES:
        requests = [("PATCH", "/api/sessions/s", body)]
        if on_create:
            requests.append(("POST", "/api/sessions", {"id": "t", "start": False, **body}))
        for method, path, request in requests:
            with pytest.raises(InvalidRequest) as caught:
                d.client.request(method, path, request)
            assert problem in caught.value.message, (method, caught.value.message)
            assert SECRET not in caught.value.message
    assert d.session("s")["proxy"] == "http://h:3128"
    assert [s["id"] for s in d.client.get("/api/sessions")["sessions"]] == ["s"]
    with pytest.raises(NotFound):
        d.client.patch("/api/sessions/ghost", {"proxy": None})


def test_sending_overrides_replace_the_previous_ones_and_apply_without_a_restart(
        plain_daemon: Daemon) -> None:
    d = plain_daemon
    created = d.client.post("/api/sessions", {"id": "s", "start": False, "sending": {"per_minute": 2}})
    assert created["sending"] == {"per_minute": 2}
    replaced = d.client.patch("/api/sessions/s", {"sending": {"per_hour": 9, "typing": False}})
    assert replaced["sending"] == {"per_hour": 9, "typing": False}
    assert d.client.patch("/api/sessions/s", {"sending": {}})["sending"] is None  # the config's again
    assert d.client.patch("/api/sessions/s", {"sending": {"per_day": 1}})["sending"] == {"per_day": 1}
    assert d.client.patch("/api/sessions/s", {"sending": None})["sending"] is None


def test_the_cli_sets_and_removes_a_proxy_and_keeps_the_password_off_its_command_line(
        plain_daemon: Daemon, tmp_path: Path) -> None:
    cfg = plain_daemon.config_path
    secret_file = tmp_path / "proxy-url"
    secret_file.write_text(f"http://zap:{SECRET}@proxy.example:3128\n", encoding="utf-8")
    created = zapvisor("create", "c", "--no-start", "--proxy-file", str(secret_file), "--json", config=cfg)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["proxy"] == "http://zap:***@proxy.example:3128"
    assert created.stderr == ""

    shown = zapvisor("set", "c", "--proxy", f"socks5://zap:{SECRET}@h:1080", config=cfg)
    assert shown.returncode == 0, shown.stderr
    assert "socks5://zap:***@h:1080" in shown.stdout and SECRET not in shown.stdout
    assert "--proxy shows the proxy's password to every local user" in shown.stderr

    removed = zapvisor("set", "c", "--no-proxy", "--sending", '{"per_hour": 40}', "--json", config=cfg)
    changed = json.loads(removed.stdout)
    assert (changed["proxy"], changed["sending"]) == (None, {"per_hour": 40})

    bad = zapvisor("set", "c", "--proxy", f"ftp://zap:{SECRET}@h:21", config=cfg)
    warning, error = bad.stderr.splitlines()  # the --proxy warning, then the one-line error
    assert bad.returncode == 1 and error.startswith("zapvisor: error: proxy: unsupported scheme 'ftp'")
    assert SECRET not in error and "Traceback" not in bad.stderr and "--proxy-file" in warning
    nothing = zapvisor("set", "c", config=cfg)
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    both = zapvisor("set", "c", "--no-proxy", "--proxy", "http://h:1", config=cfg)
    assert both.returncode == 2 and "not both" in both.stderr
