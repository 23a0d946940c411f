"""Small asyncio helpers that the standard library lacks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["wait_event", "wait_first"]

#: How often a stretchable deadline is looked at again.
_RECHECK_S = 1.0


async def wait_first(waiters: dict[str, Coroutine[Any, Any, Any]],
                     timeout: float | None = None,
                     remaining: Callable[[], float] | None = None) -> set[str]:
    """Run the named waiters until the first finishes; return the names of those that did
    (empty on timeout). The others are cancelled and awaited before returning.

    ``remaining`` (instead of ``timeout``) is a deadline that may stretch while waiting: it
    says how many seconds are left, and is asked again every second."""
    tasks = {asyncio.ensure_future(coro): name for name, coro in waiters.items()}
    try:
        if remaining is None:
            done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        else:
            done = set()
            while not done and (left := remaining()) > 0:
                done, _ = await asyncio.wait(tasks, timeout=min(left, _RECHECK_S),
                                             return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {tasks[task] for task in done}


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set, at most ``timeout_s``; whether it was. With asyncio.timeout,
    not wait_for: on 3.11, wait_for may swallow a cancellation that arrives as the event is set
    (the task would then never end, and neither would the daemon's shutdown)."""
    try:
        async with asyncio.timeout(max(0.0, timeout_s)):
            await event.wait()
    except TimeoutError:
        return False
    return True

