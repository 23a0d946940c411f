"""A small synchronous client of the control API, for the CLI (and the tests)."""

from __future__ import annotations

import json
import mimetypes
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from supervisor.errors import DaemonNotRunning, ZapvisorError, from_http

__all__ = ["Client"]


class Client:
    """Talks JSON to a running daemon; raises the error class the daemon named."""

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                raw: tuple[bytes, str] | None = None) -> Any:
        """Send one request (a JSON ``body``, or ``raw`` bytes with their content type);
        return the decoded JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        content_type = "application/json"
        if raw is not None:
            data, content_type = raw
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.api_key:
            req.add_header("X-Api-Key", self.api_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise _rebuild(exc) from None
        except urllib.error.URLError as exc:
            raise DaemonNotRunning(
                f"the zapvisor daemon is not running at {self.base_url} ({exc.reason})"
            ) from None
        except (ConnectionError, TimeoutError) as exc:
            raise DaemonNotRunning(f"no answer from the daemon at {self.base_url} ({exc})") from None

    def get(self, path: str) -> Any:
        """GET ``path``."""
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST ``body`` to ``path``."""
        return self.request("POST", path, body if body is not None else {})

    def post_file(self, path: str, fields: dict[str, str], file: Path) -> Any:
        """POST ``fields`` and the file ``file`` (its part named "file") as multipart/form-data."""
        boundary = f"zapvisor-{secrets.token_hex(12)}"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                 for name, value in fields.items()]
        mimetype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        name = file.name.replace('"', "'")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                     f"Content-Type: {mimetype}\r\n\r\n".encode() + file.read_bytes() + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, raw=(body, f"multipart/form-data; boundary={boundary}"))

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        """PATCH ``body`` to ``path``."""
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Any:
        """DELETE ``path``."""
        return self.request("DELETE", path)


def _rebuild(exc: urllib.error.HTTPError) -> ZapvisorError:
    try:
        payload = json.loads(exc.read())
        error = payload["error"]
        return from_http(error)
    except (ValueError, KeyError, TypeError):
        return ZapvisorError(f"HTTP {exc.code} {exc.reason}")
