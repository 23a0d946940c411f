"""Helpers for the media tests: files whose first bytes say what they are, a local file server
(the "URL" a send may name), and raw HTTP against the daemon (downloads)."""

from __future__ import annotations

import base64
import http.server
import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.daemon import API_KEY, Daemon

#: A file of each kind: its magic bytes, then random bytes (WhatsApp is not asked to decode).
HEADS = {
    "image": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "video": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",
    "audio": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "ptt": b"OggS\x00\x02\x00\x00\x00\x00\x00\x00",
    "document": b"%PDF-1.7\n",
    "sticker": b"RIFF\x00\x10\x00\x00WEBPVP8 ",
}


def sample(kind: str, size: int = 40_000) -> bytes:
    """``size`` bytes that start like a file of ``kind``."""
    head = HEADS[kind]
    return head + os.urandom(size - len(head))


def b64(data: bytes) -> str:
    """``data`` as base64 text."""
    return base64.b64encode(data).decode("ascii")


def download(d: Daemon, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` of the daemon: status, headers, body (errors included)."""
    request = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}", headers={"X-Api-Key": API_KEY})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@contextmanager
def file_server(files: dict[str, tuple[bytes, str]]) -> Iterator[str]:
    """Serve ``files`` (path -> (bytes, content type)) on 127.0.0.1; yields the base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            found = files.get(self.path)
            if found is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", found[1])
            self.send_header("Content-Length", str(len(found[0])))
            self.end_headers()
            self.wfile.write(found[0])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
