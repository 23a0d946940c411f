"""Small asyncio helpers that the standard library lacks."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["wait_first"]


async def wait_first(waiters: dict[str, Coroutine[Any, Any, Any]],
                     timeout: float | None = None) -> set[str]:
    """Run the named waiters until the first finishes; return the names of those that did
    (empty on timeout). The others are cancelled and awaited before returning."""
    tasks = {asyncio.ensure_future(coro): name for name, coro in waiters.items()}
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {tasks[task] for task in done}
