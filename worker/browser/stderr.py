"""Drain Chrome's stderr in a thread: an unread pipe freezes Chrome while CDP still answers.

The drain keeps the last lines for error messages, and logs them at debug level,
rate-limited (Chrome can be very chatty).
Bytes are decoded with errors="replace": Chrome's output is not guaranteed UTF-8.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import IO

from worker.logs import get_logger

_TAIL_LINES = 20
_LOG_BURST = 20  # stderr lines logged per window; the rest are counted, not logged
_LOG_WINDOW_S = 10.0

log = get_logger()


class StderrDrain(threading.Thread):
    """Reads Chrome's stderr until EOF: keeps a tail, logs rate-limited."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(name="chrome-stderr", daemon=True)
        self._stream = stream
        self._lock = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)

    def tail(self) -> str:
        """The last stderr lines, joined, for error messages."""
        with self._lock:
            return " | ".join(self._tail)

    def run(self) -> None:
        window_start, logged, suppressed = time.monotonic(), 0, 0
        with self._stream:
            for raw in iter(lambda: self._stream.readline(65536), b""):
                line = raw.decode("utf-8", errors="replace").rstrip()
                with self._lock:
                    self._tail.append(line)
                now = time.monotonic()
                if now - window_start >= _LOG_WINDOW_S:
                    if suppressed:
                        log.debug("chrome.stderr_suppressed", lines=suppressed)
                    window_start, logged, suppressed = now, 0, 0
                if logged < _LOG_BURST:
                    log.debug("chrome.stderr", line=line[:2000])
                    logged += 1
                else:
                    suppressed += 1
