"""A session's proxy: the URL the API takes, checked and split into the wire's ProxySpec, and
the one masked form it is shown in.

Stored in the session's ``options`` under ``"proxy"`` as a normalised URL (credentials
percent-encoded), in the state database (0600). Errors never repeat the input: a mistyped URL
may have its password anywhere (``http://user:secret/host:3128`` puts it in the port).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Any

from supervisor.errors import InvalidRequest
from worker import protocol

__all__ = ["masked", "parse_proxy", "proxy_option", "proxy_url"]

_MAX_URL = 2048
_MAX_CREDENTIAL = 255  # bytes: RFC 1929's limit for a SOCKS5 user name and password
_SCHEMES = ", ".join(f"{scheme}://" for scheme in protocol.ProxyScheme)
_EXAMPLE = "http://user:password@host:3128"
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _bad(problem: str) -> InvalidRequest:
    return InvalidRequest(f"proxy: {problem}")


def _host(parts: urllib.parse.SplitResult) -> str:
    host = parts.hostname or ""
    if not host:
        raise _bad(f"the URL names no host (e.g. {_EXAMPLE})")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise _bad("the host is neither a host name nor an IP address") from None
    return host


def _port(parts: urllib.parse.SplitResult) -> int:
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is None:
        raise _bad(f"the URL names no port (e.g. {_EXAMPLE})")
    if not 1 <= port <= 65535:
        raise _bad("the port must be a number from 1 to 65535")
    return port


def _credential(raw: str | None, what: str) -> str:
    value = urllib.parse.unquote(raw or "", errors="strict")
    if len(value.encode()) > _MAX_CREDENTIAL:
        raise _bad(f"the {what} is longer than {_MAX_CREDENTIAL} bytes")
    if _CONTROL.search(value.replace(" ", "")):
        raise _bad(f"the {what} contains control characters")
    return value


def parse_proxy(text: str) -> protocol.ProxySpec:
    """``text`` (``scheme://[user:password@]host:port``, credentials percent-encoded) as a
    ProxySpec; InvalidRequest naming the problem (never the input) otherwise."""
    text = text.strip()
    if len(text) > _MAX_URL:
        raise _bad(f"the URL is longer than {_MAX_URL} characters")
    if _CONTROL.search(text):
        raise _bad("the URL contains spaces or control characters: percent-encode them (%20)")
    if "://" not in text:
        raise _bad(f"give a URL like {_EXAMPLE} (scheme {_SCHEMES})")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in set(protocol.ProxyScheme):
        raise _bad(f"unsupported scheme {parts.scheme[:20]!r}: use {_SCHEMES}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _bad("a proxy URL has no path, query or fragment")
    host, port = _host(parts), _port(parts)
    try:
        username = _credential(parts.username, "user name")
        password = _credential(parts.password, "password")
    except UnicodeDecodeError:
        raise _bad("the user name or password is not valid percent-encoded UTF-8") from None
    if bool(username) != bool(password):
        raise _bad("give both a user name and a password (user:password@host), or neither")
    if ":" in username:
        raise _bad("the user name may not contain ':' (HTTP Basic authentication splits on it)")
    return {"scheme": parts.scheme, "host": host, "port": port, "username": username,
            "password": password}


def proxy_url(proxy: protocol.ProxySpec) -> str:
    """The normalised URL of ``proxy``, with its password (what is stored)."""
    host = f"[{proxy['host']}]" if ":" in proxy["host"] else proxy["host"]
    credentials = ""
    if proxy["username"]:
        credentials = (f"{urllib.parse.quote(proxy['username'], safe='')}:"
                       f"{urllib.parse.quote(proxy['password'], safe='')}@")
    return f"{proxy['scheme']}://{credentials}{host}:{proxy['port']}"


def proxy_option(value: Any) -> str | None:
    """The ``proxy`` field of a create or update request, as stored: a normalised URL, or None
    (null or "": no proxy)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(f"must be a string like {_EXAMPLE}, or null to remove it")
    return proxy_url(parse_proxy(value))


def masked(stored: Any) -> str | None:
    """A stored proxy URL as it may be shown: its password replaced by ``***``."""
    if not isinstance(stored, str) or not stored:
        return None
    try:
        return protocol.proxy_display(parse_proxy(stored))
    except InvalidRequest:  # only zapvisor writes it; a listing must never fail on one
        return "(an unreadable proxy URL)"
