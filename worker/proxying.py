"""A session's proxy inside its worker: Chrome's flags, what answers the proxy's credentials
(CDP for an HTTP(S) proxy, the local relay for a SOCKS5 one), and why the proxy failed.

The proxy arrives in the boot spec, over the socket; neither Chrome's command line nor any
environment ever holds its password. Chrome gets ``--proxy-server=scheme://host:port`` and
``--proxy-bypass-list=<-loopback>``: Chrome sends loopback addresses around a proxy by default,
and "<-loopback>" removes that rule, so nothing escapes the proxy (WhatsApp is never on loopback;
a local page, such as the tests' WhatsApp simulator, goes through the proxy like the real one).

A proxy that rejects the credentials ends the session at once (FAILED: a restart sends the same
ones). A proxy that cannot be reached shows as the page's load failing with one of Chrome's proxy
errors, which :meth:`SessionProxy.verdict` turns into a reason that names the proxy (masked).
"""

from __future__ import annotations

import asyncio
import re

from worker import protocol
from worker.browser import cdp
from worker.browser.proxyauth import ProxyAuth
from worker.browser.socksrelay import SocksRelay
from worker.logs import get_logger

__all__ = ["SessionProxy"]

#: Chrome's proxy errors (net/base/net_error_list.h), as they end a failed navigation's message.
_CHROME_ERROR = re.compile(r"net::(ERR_(?:PROXY|SOCKS|TUNNEL)_[A-Z0-9_]+|ERR_NO_SUPPORTED_PROXIES"
                           r"|ERR_MANDATORY_PROXY_CONFIGURATION_FAILED|ERR_UNEXPECTED_PROXY_AUTH)")
_IN_WORDS = {
    "ERR_PROXY_CONNECTION_FAILED": "cannot connect to the proxy",
    "ERR_TUNNEL_CONNECTION_FAILED": "the proxy did not open a tunnel",
    "ERR_SOCKS_CONNECTION_FAILED": "the SOCKS connection failed",
    "ERR_SOCKS_CONNECTION_HOST_UNREACHABLE": "the proxy cannot reach the host",
    "ERR_PROXY_CERTIFICATE_INVALID": "the proxy's TLS certificate is not valid",
}
_PROXY_AUTH_STATUS = "answered HTTP 407"  # the page load's own words (drivers.scriptedpage)
BYPASS_FLAG = "--proxy-bypass-list=<-loopback>"
_SOCKS = (protocol.ProxyScheme.SOCKS5, protocol.ProxyScheme.SOCKS5H)

log = get_logger()


class SessionProxy:
    """The proxy of one session's Chrome. :meth:`start` before Chrome, :meth:`attach` before
    the first navigation, :meth:`close` after Chrome; :attr:`failed` is set when the proxy
    refused the credentials."""

    def __init__(self, spec: protocol.ProxySpec) -> None:
        self._spec = spec
        self.display = protocol.proxy_display(spec)  # the password masked
        self._socks = spec["scheme"] in _SOCKS
        self._relay: SocksRelay | None = None
        self.failed = asyncio.Event()
        self.reason = ""  # why it failed, once it did

    async def start(self) -> list[str]:
        """Chrome's proxy flags; a SOCKS5 proxy with credentials gets its local relay first."""
        spec = self._spec
        if self._socks and spec["username"]:
            self._relay = SocksRelay(spec["host"], spec["port"], spec["username"], spec["password"],
                                     self.fail)
            server = f"socks5://127.0.0.1:{await self._relay.start()}"
        else:
            host = f"[{spec['host']}]" if ":" in spec["host"] else spec["host"]
            scheme = protocol.ProxyScheme.SOCKS5 if self._socks else spec["scheme"]
            server = f"{scheme}://{host}:{spec['port']}"
        log.info("proxy.configured", proxy=self.display, relay=self._relay is not None)
        return [f"--proxy-server={server}", BYPASS_FLAG]

    async def attach(self, browser: cdp.Browser, timeout_s: float) -> None:
        """Answer an HTTP(S) proxy's challenges from now on (with no credentials, a challenge
        fails the session instead of showing the proxy's error page as if it were WhatsApp)."""
        if not self._socks:
            auth = ProxyAuth(cdp.browser_target(browser), self._spec["username"],
                             self._spec["password"], self.fail)
            await auth.enable(timeout_s)

    def fail(self, reason: str) -> None:
        """The proxy failed for good (it refused the credentials); the first reason is kept."""
        if not self.reason:
            self.reason = reason
            log.error("proxy.failed", proxy=self.display, reason=reason)
            self.failed.set()

    def verdict(self, error: BaseException | None = None) -> str | None:
        """Why the session failed, if its proxy is the cause: the recorded failure, or Chrome's
        proxy error in ``error`` (with the relay's reason, when it has one); None otherwise."""
        if self.reason:
            return f"proxy {self.display} failed: {self.reason}"
        text = str(error or "")
        found = _CHROME_ERROR.search(text)
        if found:
            code = found.group(1)
            why = (self._relay.last_error if self._relay else "") or _IN_WORDS.get(code, "")
            return f"proxy {self.display} failed: {why + ' ' if why else ''}(net::{code})"
        if _PROXY_AUTH_STATUS in text:
            return f"proxy {self.display} failed: it demands credentials (HTTP 407)"
        return None

    async def close(self) -> None:
        """End the relay, if any (after Chrome: it carries Chrome's connections)."""
        if self._relay is not None:
            await self._relay.close()
