"""Boot failures of a worker, each with the error type sent to the supervisor and an exit code."""

from __future__ import annotations

from typing import ClassVar

from worker import protocol


class BootFailure(Exception):
    """The session could not be started; ``error_type`` crosses the socket, ``exit_code`` ends us."""

    error_type: ClassVar[protocol.WorkerErrorType] = protocol.WorkerErrorType.BOOT_FAILED
    exit_code: ClassVar[int] = protocol.EXIT_CRASH


class BadBootSpec(BootFailure):
    """The first frame was not a valid ``boot`` request (a supervisor bug: a restart repeats it)."""

    error_type = protocol.WorkerErrorType.BAD_BOOT_SPEC
    exit_code = protocol.EXIT_BOOT_FAILURE
    request_id: int | None = None  # the boot request's id, when it had one


class ChromeNotFound(BootFailure):
    """No Chrome executable at the configured path, or none on PATH."""

    error_type = protocol.WorkerErrorType.CHROME_NOT_FOUND
    exit_code = protocol.EXIT_BOOT_FAILURE


class ProfileUnusable(BootFailure):
    """The profile directory is not a writable directory, or a live foreign process uses it."""

    error_type = protocol.WorkerErrorType.PROFILE_UNUSABLE
    exit_code = protocol.EXIT_BOOT_FAILURE


class ChromeLaunchFailed(BootFailure):
    """Chrome exited (or could not be spawned, or CDP could not attach) before it was usable."""

    error_type = protocol.WorkerErrorType.CHROME_LAUNCH_FAILED


class ChromeLaunchTimeout(BootFailure):
    """Chrome did not answer over its DevTools pipe within ``launch_timeout_s``."""

    error_type = protocol.WorkerErrorType.CHROME_LAUNCH_TIMEOUT
