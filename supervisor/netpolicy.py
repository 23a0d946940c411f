"""Where the daemon may send webhooks: a valid host name, on a public address.

Anyone with the API key may name a webhook URL, and the daemon then sends requests there from
inside the host: to 127.0.0.1, the cloud's metadata service (169.254.169.254), the private
network (SSRF). Unless ``[webhooks] allow_private_networks = true``, a receiver must be on a
public address: loopback, private, link-local, shared (CGNAT), multicast, unspecified and
reserved addresses are refused, IPv4 written inside IPv6 included. The URL is checked when a
webhook is set (here: its syntax and host, a literal address, ``localhost``; the name's
addresses by ``events.netguard``), and the addresses again at every connection (netguard's
resolver), since a name may resolve elsewhere by then (DNS rebinding).

Host names are checked as DNS takes them (IDNA, labels of 1 to 63 characters, 253 in all), so a
bad one is refused when it is set instead of failing inside every delivery attempt.
"""

from __future__ import annotations

import ipaddress
import re

from yarl import URL

__all__ = ["ALLOW_KEY", "ONLY_PUBLIC", "address_problem", "is_literal", "url_problem"]

#: The setting that lifts the address rule, as messages name it.
ALLOW_KEY = "[webhooks] allow_private_networks = true"
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_MAX_URL = 2048
ONLY_PUBLIC = f"only receivers on public addresses are allowed unless {ALLOW_KEY}"


def address_problem(address: str) -> str | None:
    """Why a receiver may not be at ``address`` (an IP), or None for a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone: fe80::1%eth0
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            problem = address_problem(str(embedded))
            return f"{address} carries {problem}" if problem else None
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is a {kind.replace('_', '-')} address"
    if not ip.is_global:  # shared address space (100.64/10), documentation ranges, ...
        return f"{ip} is not a public address"
    return None


def is_literal(host: str) -> bool:
    """True if ``host`` is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _host_problem(host: str) -> str | None:
    name = host.rstrip(".")
    if not name or len(name) > 253:
        return f"host name {host[:80]!r} must have 1 to 253 characters"
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            return (f"host name {host[:80]!r}: each label must be 1 to 63 letters, digits, "
                    f"'-' or '_' (not {label[:70]!r})")
    try:
        name.encode("idna")  # what the resolver will do with it
    except UnicodeError as exc:
        return f"host name {host[:80]!r} is not valid: {exc}"
    return None


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook receiver, as far as it can be told without DNS; None if
    it may be one."""
    if len(url) > _MAX_URL:
        return f"must be at most {_MAX_URL} characters"
    try:
        parsed = URL(url)
        host = parsed.raw_host  # IDNA-encoded (ASCII), as it will be resolved
    except (ValueError, UnicodeError) as exc:
        return f"is not a valid URL: {exc}"
    if parsed.scheme not in ("http", "https") or not host:
        return "must be an http:// or https:// URL with a host"
    if is_literal(host):
        problem = None if allow_private else address_problem(host)
        return f"{problem}; {ONLY_PUBLIC}" if problem else None
    problem = _host_problem(host)
    if problem is not None:
        return problem
    name = host.rstrip(".")
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        return f"{host} is the loopback; {ONLY_PUBLIC}"
    return None
