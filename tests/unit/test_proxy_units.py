"""A session's proxy in parts: the URL's checks and its masked form (supervisor.sessions.proxy),
the options table (supervisor.sessions.options), the boot spec on both sides, and the worker's
Chrome flags and failure reasons (worker.proxying)."""

from __future__ import annotations

from typing import Any

import pytest

from supervisor.config import Config
from supervisor.errors import InvalidRequest
from supervisor.sessions import options
from supervisor.sessions.bootspec import boot_spec
from supervisor.sessions.proxy import masked, parse_proxy, proxy_option, proxy_url
from worker import protocol
from worker.drivers.base import DriverFatal
from worker.errors import BadBootSpec
from worker.proxying import BYPASS_FLAG, SessionProxy
from worker.spec import parse_boot

SECRET = "s3cr3t-pw"


@pytest.mark.parametrize(("url", "parts"), [
    ("http://proxy.example:3128", ("http", "proxy.example", 3128, "", "")),
    (" HTTPS://user:pw@10.0.0.2:443/ ", ("https", "10.0.0.2", 443, "user", "pw")),
    ("socks5://u%40x:p%40ss%20w%3Ard%2F@[2001:db8::1]:1080",
     ("socks5", "2001:db8::1", 1080, "u@x", "p@ss w:rd/")),
    ("socks5h://a:b@Proxy-1.Example.COM.:1", ("socks5h", "proxy-1.example.com.", 1, "a", "b")),
])
def test_a_proxy_url_is_split_and_percent_decoded(url: str, parts: tuple[Any, ...]) -> None:
    spec = parse_proxy(url)
    assert (spec["scheme"], spec["host"], spec["port"], spec["username"], spec["password"]) == parts
    assert parse_proxy(proxy_url(spec)) == spec  # what is stored reads back the same


@pytest.mark.parametrize(("url", "problem"), [
    (f"ftp://u:{SECRET}@h:21", "unsupported scheme 'ftp': use http://, https://, socks5://, socks5h://"),
    (f"u:{SECRET}@h:3128", "give a URL like"),
    (f"http://u:{SECRET}@h", "names no port"),
    (f"http://u:{SECRET}/h:3128", "no path, query or fragment"),  # the password where the port goes
    (f"http://{SECRET}:{SECRET}", "the port must be a number from 1 to 65535"),
    (f"http://u:{SECRET}@h:0", "the port must be a number from 1 to 65535"),
    (f"http://u:{SECRET}@h:70000", "the port must be a number from 1 to 65535"),
    (f"http://u:{SECRET}@:3128", "names no host"),
    (f"http://u:{SECRET}@bad_host!:3128", "neither a host name nor an IP address"),
    (f"http://u:{SECRET}@h:3128/path", "no path, query or fragment"),
    (f"http://u:{SECRET}@h:3128?x=1", "no path, query or fragment"),
    (f"http://u:{SECRET} x@h:3128", "spaces or control characters"),
    (f"http://:{SECRET}@h:3128", "give both a user name and a password"),
    ("http://user@h:3128", "give both a user name and a password"),
    (f"http://a%3Ab:{SECRET}@h:3128", "may not contain ':'"),
    (f"http://u:{SECRET}%0A@h:3128", "control characters"),
    (f"http://u:{SECRET}%FF@h:3128", "not valid percent-encoded UTF-8"),
    (f"socks5://u:{'x' * 256}@h:1080", "longer than 255 bytes"),
    (f"http://u:{SECRET}@h:3128" + "0" * 3000, "longer than 2048 characters"),
])
def test_a_bad_proxy_url_is_refused_naming_the_problem_never_the_password(url: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_proxy(url)
    assert problem in caught.value.message and caught.value.message.startswith("proxy: ")
    assert SECRET not in caught.value.message and "x" * 50 not in caught.value.message


def test_the_proxy_option_is_stored_normalised_and_shown_masked() -> None:
    stored = proxy_option("SOCKS5://u%3D:p%2Fw@[::1]:1080")
    assert stored == "socks5://u%3D:p%2Fw@[::1]:1080"
    assert masked(stored) == "socks5://u%3D:***@[::1]:1080"
    assert masked("http://h:8080") == "http://h:8080"
    assert proxy_option(None) is None and proxy_option("") is None and masked(None) is None
    assert masked(f"ftp://u:{SECRET}@h:1") == "(an unreadable proxy URL)"  # never raises
    for wrong in (3128, {"url": f"http://u:{SECRET}@h:1"}, [SECRET]):
        with pytest.raises(InvalidRequest) as caught:
            proxy_option(wrong)
        assert "must be a string" in caught.value.message and SECRET not in caught.value.message


def test_options_are_merged_shown_and_say_when_a_running_session_restarts() -> None:
    before = {"proxy": "http://a:b@h:1", "future_key": {"kept": True}}
    changes = options.parse_changes({"proxy": None, "metadata": {}})
    assert changes == {"proxy": None}
    after = options.merged(before, changes)
    assert after == {"future_key": {"kept": True}}  # another zapvisor's option stays
    assert options.changed_restarting(before, after) == ["proxy"]
    assert options.changed_restarting(before, dict(before)) == []
    assert options.shown(before) == {"proxy": "http://a:***@h:1", "sending": None, "node_tags": None}
    assert options.shown({}) == {"proxy": None, "sending": None, "node_tags": None}


def test_sending_overrides_replace_the_previous_ones_and_are_checked_against_the_config() -> None:
    stored = {"sending": {"per_minute": 2, "per_hour": 5}}
    after = options.merged(stored, options.parse_changes({"sending": {"per_day": 3}}))
    assert after == {"sending": {"per_day": 3}}
    assert options.changed_restarting(stored, after) == []  # the queue reads it at each send
    assert options.merged(after, options.parse_changes({"sending": {}})) == {}  # the config's again
    options.check(after, Config())
    for bad, problem in (({"per_minutes": 1}, "unknown key [sending] per_minutes"),
                         ({"delay_min_s": 99}, "delay_min_s in this session's sending must be")):
        with pytest.raises(InvalidRequest) as caught:
            options.check({"sending": bad}, Config())
        assert problem in caught.value.message
    with pytest.raises(InvalidRequest):
        options.parse_changes({"sending": "fast"})


def test_the_proxy_crosses_the_socket_in_the_boot_spec_and_is_checked_there() -> None:
    config = Config()
    spec = boot_spec(config, "s", "/p", "/t", options={"proxy": f"http://u:{SECRET}@h:3128"})
    assert spec["proxy"] == {"scheme": "http", "host": "h", "port": 3128, "username": "u", "password": SECRET}
    assert "proxy" not in boot_spec(config, "s", "/p", "/t", options={})
    message = protocol.make_request(1, protocol.OP_BOOT, dict(spec))
    assert parse_boot(message).spec["proxy"] == spec["proxy"]
    for bad in ({**spec["proxy"], "scheme": "ftp"}, {**spec["proxy"], "port": 0},
                {**spec["proxy"], "port": True}, {**spec["proxy"], "password": 5}, SECRET):
        with pytest.raises(BadBootSpec) as caught:
            parse_boot(protocol.make_request(1, protocol.OP_BOOT, {**spec, "proxy": bad}))
        assert "proxy" in str(caught.value) and SECRET not in str(caught.value)


def _proxy(url: str) -> SessionProxy:
    return SessionProxy(parse_proxy(url))


@pytest.mark.asyncio
@pytest.mark.parametrize(("url", "server"), [
    (f"http://u:{SECRET}@h:3128", "http://h:3128"),
    (f"https://u:{SECRET}@[2001:db8::1]:443", "https://[2001:db8::1]:443"),
    ("socks5h://h:1080", "socks5://h:1080"),  # Chrome's SOCKS5 always resolves names remotely
])
async def test_chrome_gets_the_proxy_without_credentials_and_loopback_not_bypassed(
        url: str, server: str) -> None:
    proxy = _proxy(url)
    assert await proxy.start() == [f"--proxy-server={server}", BYPASS_FLAG]
    assert BYPASS_FLAG == "--proxy-bypass-list=<-loopback>"
    await proxy.close()


def test_a_failure_is_the_proxys_when_chrome_says_so_and_names_it_masked() -> None:
    proxy = _proxy(f"http://u:{SECRET}@h:3128")
    load = "page never loaded: http://w/: net::ERR_TUNNEL_CONNECTION_FAILED at http://w/"
    assert proxy.verdict(DriverFatal(load)) == (
        "proxy http://u:***@h:3128 failed: the proxy did not open a tunnel "
        "(net::ERR_TUNNEL_CONNECTION_FAILED)")
    assert proxy.verdict(RuntimeError("net::ERR_PROXY_AUTH_UNSUPPORTED at x")) == (
        "proxy http://u:***@h:3128 failed: (net::ERR_PROXY_AUTH_UNSUPPORTED)")
    assert proxy.verdict(DriverFatal("page never loaded: http://w/ answered HTTP 407")) == (
        "proxy http://u:***@h:3128 failed: it demands credentials (HTTP 407)")
    assert proxy.verdict(DriverFatal("net::ERR_NAME_NOT_RESOLVED at http://w/")) is None
    assert proxy.verdict(DriverFatal("CONFLICT: the account is open elsewhere")) is None
    proxy.fail("the proxy rejected the credentials")
    proxy.fail("a later reason")
    assert proxy.failed.is_set()
    assert proxy.verdict() == "proxy http://u:***@h:3128 failed: the proxy rejected the credentials"
