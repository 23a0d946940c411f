"""Validation of the ``boot`` request (the first frame a worker reads), and the session's
``[whatsapp]`` options as one typed, frozen object.

The boot spec is parsed once, here; what runs later reads :class:`Boot` (the driver factory
and the drivers read :class:`WhatsAppOptions`, never the raw ``whatsapp`` dict).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, cast

from worker import protocol
from worker.errors import BadBootSpec
from worker.lease import valid_until

_STRINGS = ("session_id", "profile_dir", "tmp_dir", "url", "chrome_executable", "chrome_user_agent")
_NUMBERS = ("launch_timeout_s", "page_timeout_s", "heartbeat_interval_s", "probe_interval_s",
            "close_timeout_s")
_LEAN = tuple(protocol.ChromeLean)
#: The ``[whatsapp]`` keys and their types, as the wire contract declares them.
_WHATSAPP_HINTS = typing.get_type_hints(protocol.WhatsAppSpec)


@dataclass(frozen=True)
class WhatsAppOptions:
    """How the WhatsApp driver follows its page: ``protocol.WhatsAppSpec``, validated and frozen
    (lists become tuples). Its fields are the spec's keys, which a unit test holds equal."""

    driver: str  # "whatsapp", or "basic": open the URL and report WORKING (no WhatsApp)
    ready_timeout_s: float
    qr_timeout_s: float
    qr_max_refreshes: int
    pairing_code_interval_s: float
    takeover_on_conflict: bool
    send_timeout_s: float
    ignore_groups: bool
    ignore_status: bool
    ignore_newsletters: bool
    commands: tuple[str, ...]  # the bot commands answered in chats (worker.drivers.chatbot)
    command_prefix: str

    @classmethod
    def from_spec(cls, spec: protocol.WhatsAppSpec) -> WhatsAppOptions:
        """The options of a spec that passed validation (every key present and well typed)."""
        values: dict[str, Any] = {key: spec[key] for key in _WHATSAPP_HINTS}  # type: ignore[literal-required]
        values["commands"] = tuple(values["commands"])
        return cls(**values)


@dataclass(frozen=True)
class Boot:
    """A valid boot request."""

    request_id: int
    spec: protocol.BootSpec
    whatsapp: WhatsAppOptions | None  # None: no ``whatsapp`` in the spec (the basic driver)


def parse_boot(message: dict[str, Any]) -> Boot:
    """The boot request ``message``, validated; raises BadBootSpec otherwise.

    ``BadBootSpec.request_id`` is set when the message had an id, so an error reply can be sent.
    """
    request_id = message.get("id") if isinstance(message.get("id"), int) else None
    problem = _problem(message)
    if problem:
        error = BadBootSpec(f"first frame is not a valid boot request: {problem}")
        error.request_id = request_id
        raise error
    assert request_id is not None
    spec = cast(protocol.BootSpec, message["args"])
    whatsapp = WhatsAppOptions.from_spec(spec["whatsapp"]) if "whatsapp" in spec else None
    return Boot(request_id, spec, whatsapp)


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
    lean = args.get("chrome_lean")
    if not isinstance(lean, list) or not all(name in _LEAN for name in lean):
        return f"chrome_lean must be a list of {', '.join(_LEAN)}"
    heap = args.get("chrome_js_heap_max_mb")
    if isinstance(heap, bool) or not isinstance(heap, int) or heap < 0:
        return "chrome_js_heap_max_mb must be an integer >= 0"
    if "proxy" in args and (problem := _proxy_problem(args["proxy"])):
        return problem
    if "lease_until_monotonic" in args and valid_until(args["lease_until_monotonic"]) is None:
        return "lease_until_monotonic must be a finite number"
    if "whatsapp" in args:
        return _whatsapp_problem(args["whatsapp"])
    return None


def _proxy_problem(proxy: Any) -> str | None:
    # Never the values: the password is among them.
    if not isinstance(proxy, dict) or proxy.get("scheme") not in set(protocol.ProxyScheme):
        return f"proxy must be an object with a scheme of {', '.join(protocol.ProxyScheme)}"
    if not all(isinstance(proxy.get(key), str) for key in ("host", "username", "password")):
        return "proxy.host, proxy.username and proxy.password must be strings"
    port = proxy.get("port")
    if not proxy["host"] or isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        return "proxy needs a host and a port from 1 to 65535"
    return None


def _whatsapp_problem(options: Any) -> str | None:
    if not isinstance(options, dict):
        return "whatsapp must be an object"
    for key, hint in _WHATSAPP_HINTS.items():
        value = options.get(key)
        kind = typing.get_origin(hint) or hint
        if kind is float:
            kind = (int, float)
        if isinstance(value, bool) and hint is not bool or not isinstance(value, kind):
            return f"whatsapp.{key} must be of type {getattr(hint, '__name__', hint)}"
    if not all(isinstance(item, str) for item in options["commands"]):
        return "whatsapp.commands must be a list of strings"
    return None
