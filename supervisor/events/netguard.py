"""The address rule of ``supervisor.netpolicy``, applied where names become addresses: when a
webhook is set (:func:`check_receivers`: every address its host resolves to must be public) and
at every connection (:class:`PublicResolver`, the delivery loop's resolver: a name that resolves
elsewhere since, DNS rebinding, is refused there). A literal address never reaches a resolver:
the delivery loop checks it with ``netpolicy.url_problem`` before each attempt.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from supervisor.errors import InvalidRequest
from supervisor.netpolicy import ONLY_PUBLIC, address_problem, is_literal

__all__ = ["BlockedAddress", "PublicResolver", "check_receivers"]

_RESOLVE_TIMEOUT_S = 5.0


class BlockedAddress(OSError):
    """A receiver's name resolved to an address webhooks may not reach."""


def _blocked(host: str, addresses: Iterable[str]) -> str | None:
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            return f"{host} resolves to {problem}; {ONLY_PUBLIC}"
    return None


class PublicResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name with any non-public address among its answers."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The addresses of ``host``; BlockedAddress if one of them is not public."""
        results = await self._inner.resolve(host, port, family)
        problem = _blocked(host, (result["host"] for result in results))
        if problem is not None:
            raise BlockedAddress(problem)
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


async def check_receivers(urls: Iterable[str], allow_private: bool) -> None:
    """InvalidRequest unless the host of every URL (already valid: netpolicy.url_problem)
    resolves, and only to public addresses. Nothing to resolve when private ones are allowed."""
    if allow_private:
        return
    loop = asyncio.get_running_loop()
    for url in urls:
        host = URL(url).raw_host or ""
        if is_literal(host):
            continue  # checked with the URL
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM),
                                           _RESOLVE_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise InvalidRequest(f"webhook host {host} does not resolve: {exc}") from None
        problem = _blocked(host, (str(info[4][0]) for info in infos))
        if problem is not None:
            raise InvalidRequest(f"webhook {url}: {problem}")
