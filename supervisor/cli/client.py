"""A small synchronous client of the control API, for the CLI (and the tests)."""

from __future__ import annotations

import http.client
import json
import mimetypes
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.errors import DaemonNotRunning, Unauthorized, ZapvisorError, from_http

__all__ = ["Client", "SSEMessage"]


@dataclass(frozen=True)
class SSEMessage:
    """One server-sent event: its ``id:`` (None for an unnumbered one such as ``gap``), its
    ``event:`` name, and its ``data:`` decoded from JSON."""

    id: str | None
    event: str
    data: Any


class Client:
    """Talks JSON to a running daemon; raises the error class the daemon named. ``key_source``
    says where the key came from (or where none was found): a 401's message then says too."""

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 120.0,
                 key_source: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.key_source = key_source

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
        with self._open(req, self.timeout_s) as resp:
            try:
                return json.loads(resp.read() or b"null")
            except ValueError:
                raise ZapvisorError(f"{self.base_url}{path} did not answer JSON: is a zapvisor "
                                    "daemon listening there?") from None
            except (OSError, http.client.HTTPException) as exc:
                raise DaemonNotRunning(f"the answer of {self.base_url} broke off ({exc})") from None

    def _open(self, req: urllib.request.Request, timeout_s: float) -> Any:
        """The response to ``req`` (with the key), or the error the daemon named."""
        if self.api_key:
            req.add_header("X-Api-Key", self.api_key)
        try:
            return urllib.request.urlopen(req, timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            error = _rebuild(exc)
            if isinstance(error, Unauthorized) and self.key_source:
                error = Unauthorized(f"{error.message}; {self.key_source}")
            raise error from None
        except urllib.error.URLError as exc:
            raise DaemonNotRunning(
                f"the zapvisor daemon is not running at {self.base_url} ({exc.reason})"
            ) from None
        except (ConnectionError, TimeoutError) as exc:
            raise DaemonNotRunning(f"no answer from the daemon at {self.base_url} ({exc})") from None

    def stream(self, path: str, last_event_id: str | None, idle_timeout_s: float) -> Iterator[SSEMessage]:
        """The server-sent events of ``path`` until the daemon ends the stream, resumed after
        ``last_event_id`` when given; the stream is open once this returns (else it raised).
        ``: ping`` comments only keep the read alive: a stream silent for ``idle_timeout_s``
        (no ping either) ends in DaemonNotRunning."""
        req = urllib.request.Request(self.base_url + path, headers={"Accept": "text/event-stream"})
        if last_event_id is not None:
            req.add_header("Last-Event-ID", last_event_id)
        return self._messages(path, self._open(req, idle_timeout_s))  # opened here: errors now

    def _messages(self, path: str, opened: Any) -> Iterator[SSEMessage]:
        with opened as resp:
            fields: dict[str, str] = {}
            data: list[str] = []
            while True:
                try:
                    raw = resp.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise DaemonNotRunning(f"the event stream from {self.base_url} broke ({exc})") from None
                if not raw:
                    return
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line.startswith(":"):
                    continue
                if line:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
                    continue
                if data:
                    try:
                        decoded = json.loads("\n".join(data))
                    except ValueError:
                        raise ZapvisorError(f"{self.base_url}{path} sent an event that is not JSON") from None
                    yield SSEMessage(fields.get("id"), fields.get("event", "message"), decoded)
                fields, data = {}, []

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
