"""One exception hierarchy for the supervisor, the API and the CLI.

::

    ZapvisorError                      500  something we did not expect
    ├── ConfigError                    -    bad config.toml or environment (startup only)
    ├── StateError                     -    unusable state directory or database (startup only)
    ├── InvalidRequest                 400  bad JSON, bad session id, bad field
    ├── Unauthorized                   401  missing or wrong API key
    ├── NotFound                       404  no such session or route
    ├── RequestTimeout                 408  the request body did not arrive in time
    ├── NotOnWhatsApp                  422  the recipient's number has no WhatsApp account
    ├── Conflict                       409  the session exists, or is in the wrong state
    │   └── ProfileInUse               409  a running Chrome holds the profile (no snapshot of it)
    ├── PayloadTooLarge                413  body over server.max_body_bytes, media over its limit
    ├── TooManySessions                429  sessions.max_sessions reached
    ├── Overloaded                     429  host memory or disk under its floor (Retry-After)
    ├── BadSnapshot                    502  a stored snapshot is unsafe or unreadable
    ├── Unavailable                    503  shutting down, or a worker did not answer
    │   ├── WorkerError                503  a worker reported a failure
    │   ├── SnapshotStoreError         503  the snapshot store failed (unreachable, refused us)
    │   └── ClusterUnavailable         503  the cluster's Redis cannot be reached
    │       └── LeaseLost              503  this node's lease lapsed: it may own nothing new
    └── DaemonNotRunning               -    the CLI could not reach the daemon

Each class carries its HTTP status, so the API maps an error to exactly one status and the
CLI prints exactly one message. Errors cross the worker socket as ``{"type", "message"}``
(see :func:`from_wire`), and cross HTTP as ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from worker import protocol

__all__ = [
    "ZapvisorError",
    "ConfigError",
    "StateError",
    "InvalidRequest",
    "Unauthorized",
    "NotFound",
    "RequestTimeout",
    "NotOnWhatsApp",
    "Conflict",
    "PayloadTooLarge",
    "TooManySessions",
    "Overloaded",
    "Unavailable",
    "WorkerError",
    "ClusterUnavailable",
    "LeaseLost",
    "ProfileInUse",
    "BadSnapshot",
    "SnapshotStoreError",
    "DaemonNotRunning",
    "from_http",
    "from_wire",
]


class ZapvisorError(Exception):
    """Base of every error zapvisor raises on purpose."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def type(self) -> str:
        """The name clients see in ``error.type``."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of an error response."""
        return {"error": {"type": self.type, "message": self.message}}


class ConfigError(ZapvisorError):
    """The configuration is invalid; the message names the key and the file."""


class StateError(ZapvisorError):
    """The state directory or database cannot be used (foreign, corrupt, locked)."""


class InvalidRequest(ZapvisorError):
    """The request is malformed or names an invalid value."""

    status = 400


class Unauthorized(ZapvisorError):
    """The API key is missing or wrong."""

    status = 401


class NotFound(ZapvisorError):
    """The session (or route) does not exist."""

    status = 404


class RequestTimeout(ZapvisorError):
    """The client did not send its request body within ``[server] body_timeout_s``."""

    status = 408


class Conflict(ZapvisorError):
    """The request conflicts with the current state of a session."""

    status = 409


class ProfileInUse(Conflict):
    """A running Chrome holds the profile: it must not be copied (a torn copy loses the login)
    nor replaced under that Chrome."""


class NotOnWhatsApp(ZapvisorError):
    """The recipient's phone number is not on WhatsApp (WhatsApp's own answer)."""

    status = 422


class PayloadTooLarge(ZapvisorError):
    """The request body is larger than allowed."""

    status = 413


class TooManySessions(ZapvisorError):
    """No more sessions may be created."""

    status = 429


class Overloaded(ZapvisorError):
    """The host is short of memory or disk: no new Chrome now, try again later."""

    status = 429

    def __init__(self, message: str, retry_after_s: int = 30) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(ZapvisorError):
    """A send over one of its session's limits, refused instead of queued (``over_limit =
    "reject"``); ``limit`` names it, Retry-After says when it frees up."""

    status = 429

    def __init__(self, message: str, limit: str = "", retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after_s = retry_after_s

    def to_dict(self) -> dict[str, Any]:
        """The error body, with the limit's name."""
        body = super().to_dict()
        body["error"]["limit"] = self.limit
        return body


class Unavailable(ZapvisorError):
    """The daemon cannot serve this now (shutting down, worker unreachable)."""

    status = 503

    def __init__(self, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WorkerError(Unavailable):
    """A worker answered a request with an error."""

    def __init__(self, message: str, worker_type: str = "WorkerError") -> None:
        super().__init__(message)
        self.worker_type = worker_type

    @property
    def type(self) -> str:
        return self.worker_type


class ClusterUnavailable(Unavailable):
    """A cluster node cannot reach its Redis (down, partitioned, loading, read-only replica):
    nothing about membership or ownership can be decided now."""


class LeaseLost(ClusterUnavailable):
    """This node holds no live lease (it expired during an outage, or another process of the same
    node id replaced it): it claims nothing until its lease is renewed."""


class SnapshotStoreError(Unavailable):
    """The snapshot store could not be used now (unreachable, credentials refused, no bucket)."""


class BadSnapshot(ZapvisorError):
    """A stored snapshot was refused: not a gzip tar, or a member that is not a plain file or
    folder inside the profile (absolute, '..', a link, a device). Nothing was written."""

    status = 502


class DaemonNotRunning(ZapvisorError):
    """The CLI could not connect to the daemon."""


#: The worker's error types (protocol.ErrorType), each mapped to one class here (and so to one
#: HTTP status). A type missing here arrives as a WorkerError that keeps its name.
_FROM_WIRE: dict[str, type[ZapvisorError]] = {
    protocol.ErrorType.CONFLICT: Conflict,
    protocol.ErrorType.INVALID_REQUEST: InvalidRequest,
    protocol.ErrorType.NOT_FOUND: NotFound,
    protocol.ErrorType.NOT_ON_WHATSAPP: NotOnWhatsApp,
    protocol.ErrorType.UNAVAILABLE: Unavailable,
    protocol.ErrorType.TOO_LARGE: PayloadTooLarge,
}


def from_wire(error: dict[str, Any]) -> ZapvisorError:
    """Rebuild an error that crossed the worker socket as ``{"type", "message"}``."""
    error_type = str(error.get("type", protocol.ErrorType.WORKER_ERROR))
    message = str(error.get("message", "worker error"))
    cls = _FROM_WIRE.get(error_type)
    if cls is not None:
        return cls(message)
    return WorkerError(message, error_type)


def from_http(error: dict[str, Any]) -> ZapvisorError:
    """Rebuild an error the API answered as ``{"type", "message"}`` (for the CLI's client): the
    class of that name, or a WorkerError that keeps the name (a worker's own error type)."""
    error_type = str(error.get("type", "ZapvisorError"))
    message = str(error.get("message", "error"))
    cls = _BY_NAME.get(error_type)
    if cls is None or cls is WorkerError:
        return WorkerError(message, error_type)
    return cls(message)


def _classes(base: type[ZapvisorError]) -> list[type[ZapvisorError]]:
    return [base, *(c for sub in base.__subclasses__() for c in _classes(sub))]


#: Every class of the hierarchy by the name clients see in ``error.type``.
_BY_NAME = {cls.__name__: cls for cls in _classes(ZapvisorError)}
