"""Validation of the ``boot`` request: the first frame a worker reads."""

from __future__ import annotations

import typing
from typing import Any, cast

from worker import protocol
from worker.errors import BadBootSpec

_STRINGS = ("session_id", "profile_dir", "tmp_dir", "url", "chrome_executable", "chrome_user_agent")
_NUMBERS = ("launch_timeout_s", "page_timeout_s", "heartbeat_interval_s", "close_timeout_s")


def parse_boot(message: dict[str, Any]) -> tuple[int, protocol.BootSpec]:
    """(request id, BootSpec) of a valid boot request; raises BadBootSpec otherwise.

    ``BadBootSpec.request_id`` is set when the message had an id, so an error reply can be sent.
    """
    request_id = message.get("id") if isinstance(message.get("id"), int) else None
    problem = _problem(message)
    if problem:
        error = BadBootSpec(f"first frame is not a valid boot request: {problem}")
        error.request_id = request_id
        raise error
    assert request_id is not None
    return request_id, cast(protocol.BootSpec, message["args"])


def _problem(message: dict[str, Any]) -> str | None:
    if protocol.kind_of(message) != "request" or message["op"] != protocol.OP_BOOT:
        return f"expected op {protocol.OP_BOOT!r}, got {message.get('op', message.get('event'))!r}"
    args = message.get("args", {})
    for key in _STRINGS:
        if not isinstance(args.get(key), str):
            return f"{key} must be a string"
    for key in ("session_id", "profile_dir", "tmp_dir", "url"):
        if not args[key]:
            return f"{key} must not be empty"
    for key in _NUMBERS:
        value = args.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            return f"{key} must be a positive number"
    if not isinstance(args.get("chrome_headless"), bool):
        return "chrome_headless must be a boolean"
    extra = args.get("chrome_extra_args")
    if not isinstance(extra, list) or not all(isinstance(arg, str) for arg in extra):
        return "chrome_extra_args must be a list of strings"
    if "whatsapp" in args:
        return _whatsapp_problem(args["whatsapp"])
    return None


def _whatsapp_problem(options: Any) -> str | None:
    if not isinstance(options, dict):
        return "whatsapp must be an object"
    for key, hint in typing.get_type_hints(protocol.WhatsAppSpec).items():
        value = options.get(key)
        kind = typing.get_origin(hint) or hint
        if kind is float:
            kind = (int, float)
        if isinstance(value, bool) and hint is not bool or not isinstance(value, kind):
            return f"whatsapp.{key} must be of type {getattr(hint, '__name__', hint)}"
    if not all(isinstance(item, str) for item in options["commands"]):
        return "whatsapp.commands must be a list of strings"
    return None
