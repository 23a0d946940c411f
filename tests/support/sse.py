"""A small blocking server-sent events client, for tests against a real daemon.

    with SSEClient(url, api_key) as stream:
        msg = stream.read_until(lambda m: m.data["event"] == "session.status", timeout=30)

Messages are ``Message(id, event, data)`` with ``data`` decoded from JSON; comment lines
(``: ping``) are counted in ``pings``. Every read has a deadline (socket timeout).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Message:
    """One SSE message."""

    id: str | None
    event: str | None
    data: Any


class SSEClient:
    """Reads one event stream; ``ended`` once the server closed it."""

    def __init__(self, url: str, api_key: str, last_event_id: int | str | None = None,
                 timeout: float = 30.0) -> None:
        headers = {"X-Api-Key": api_key, "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                            timeout=timeout)
        self.status: int = self._resp.status
        self.content_type: str = self._resp.headers.get("Content-Type", "")
        self.pings = 0
        self.ended = False
        self.seen: list[Message] = []

    def __enter__(self) -> SSEClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Hang up."""
        self._resp.close()

    def next(self) -> Message | None:
        """The next message; None when the stream ended."""
        fields: dict[str, str] = {}
        data: list[str] = []
        while True:
            raw = self._resp.readline()
            if not raw:
                self.ended = True
                return None
            line = raw.decode().rstrip("\r\n")
            if line == "":
                if data or fields:
                    msg = Message(fields.get("id"), fields.get("event"), json.loads("\n".join(data)))
                    self.seen.append(msg)
                    return msg
                continue
            if line.startswith(":"):
                self.pings += 1
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value

    def read_until(self, predicate: Callable[[Message], bool], timeout: float) -> Message:
        """Read until a message matches; AssertionError at the deadline or the stream's end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.next()
            except (TimeoutError, socket.timeout):
                break
            if msg is None:
                raise AssertionError(f"stream ended; seen: {[m.data for m in self.seen]}")
            if predicate(msg):
                return msg
        raise AssertionError(f"timed out after {timeout}s; seen: {[m.data for m in self.seen]}")

    def read_to_end(self, timeout: float) -> list[Message]:
        """Everything until the server ends the stream (AssertionError at the deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.next() is None:
                return self.seen
        raise AssertionError(f"stream still open after {timeout}s")
