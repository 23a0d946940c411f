"""Credentials for an HTTP(S) proxy, given to Chrome over CDP: Chrome takes none on its command
line (``--proxy-server`` has no place for them, and a command line is readable by every local
user), so the worker answers the proxy's challenges itself.

CDP's Fetch domain, enabled with ``handleAuthRequests``, pauses requests and reports each
authentication challenge as ``Fetch.authRequired``; ``Fetch.continueWithAuth`` answers it. It is
enabled on the *browser* target, so it sees the requests of every page and of WhatsApp Web's
service worker alike (a page target's Fetch would miss the worker's own fetches). Chrome raises
``authRequired`` only for requests Fetch intercepts (seen here: a pattern that matches nothing
gets the proxy's 407 page instead), hence the ``*`` pattern and a ``continueRequest`` for every
paused request. pyppeteer's ``page.authenticate`` does the same with the older
``Network.setRequestInterception`` on one page, and gives up on a challenge repeated for a
request it already answered (``CancelAuth``); so does this module, and that is the sign that the
proxy rejected the credentials.

A repeated challenge counts whatever its ``source``: tinyproxy before 1.11.2 answers wrong
credentials with 401 and ``WWW-Authenticate`` instead of 407 (tinyproxy/tinyproxy#532, fixed by
#549), which Chrome reports as a "Server" challenge. WhatsApp Web itself never asks for HTTP
authentication.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from worker.browser.cdp import Connection
from worker.logs import get_logger

__all__ = ["ProxyAuth"]

_PATTERNS = [{"urlPattern": "*"}]
_REMEMBERED = 4096  # answered request ids kept (requests end unseen: no response stage here)
REJECTED = "the proxy rejected the credentials"
NO_CREDENTIALS = "the proxy asks for credentials, and the session's proxy URL has none"

log = get_logger()


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        # The request went away meanwhile (a navigation, Chrome closing): nothing to answer.
        log.debug("proxy.cdp_answer_failed", error=repr(future.exception()))


class ProxyAuth:
    """Answers proxy challenges on the browser target ``target`` with ``username`` and
    ``password`` ("" for none); ``on_failure(reason)`` when the proxy refuses them (or wants
    some and there are none)."""

    def __init__(self, target: Connection, username: str, password: str,
                 on_failure: Callable[[str], None]) -> None:
        self._target = target
        self._credentials = (username, password)
        self._on_failure = on_failure
        self._answered: OrderedDict[str, None] = OrderedDict()

    async def enable(self, timeout_s: float) -> None:
        """Start answering: before the first navigation."""
        self._target.on("Fetch.requestPaused", self._guarded(self._paused))
        self._target.on("Fetch.authRequired", self._guarded(self._auth_required))
        await asyncio.wait_for(self._target.send(
            "Fetch.enable", {"handleAuthRequests": True, "patterns": _PATTERNS}), timeout_s)

    @staticmethod
    def _guarded(handler: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        def guarded(event: dict[str, Any]) -> None:
            try:
                handler(event)
            except Exception:  # never into pyppeteer's receive loop, which would die of it
                log.exception("proxy.handler_failed")
        return guarded

    def _send(self, method: str, params: dict[str, Any]) -> None:
        try:
            future = self._target.send(method, params)
        except ConnectionError:  # Chrome is gone: its requests with it
            return
        future.add_done_callback(_retrieved)

    def _paused(self, event: dict[str, Any]) -> None:
        self._send("Fetch.continueRequest", {"requestId": event["requestId"]})

    def _auth_required(self, event: dict[str, Any]) -> None:
        request_id = event["requestId"]
        source = (event.get("authChallenge") or {}).get("source")
        username, password = self._credentials
        answer: dict[str, Any] = {"response": "Default"}  # a site's own challenge: Chrome's way
        if request_id in self._answered:
            answer = {"response": "CancelAuth"}
            self._fail(REJECTED)
        elif source == "Proxy" and username:
            answer = {"response": "ProvideCredentials", "username": username, "password": password}
            self._answered[request_id] = None
            while len(self._answered) > _REMEMBERED:
                self._answered.popitem(last=False)
        elif source == "Proxy":
            answer = {"response": "CancelAuth"}
            self._fail(NO_CREDENTIALS)
        self._send("Fetch.continueWithAuth", {"requestId": request_id, "authChallengeResponse": answer})

    def _fail(self, reason: str) -> None:
        log.warning("proxy.auth_failed", reason=reason)
        self._on_failure(reason)
