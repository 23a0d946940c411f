"""Configuration of the simulator: timings, the WhatsApp Web build, and what "WhatsApp's
servers" know (numbers on WhatsApp, LID-addressed groups).

Two builds are modelled (BUILDS): "2024" (Debug.VERSION 2.3000.1017054665, the surface
whatsapp-web.js v1.34 drove) and "2026" (2.3000.1046379654: gradual module registration,
MsgKey without ``_serialized``, LIDs; research/whatsapp-anchors.md §10).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUILDS", "BUILD_DEFAULTS", "FIELD_TYPES", "SimConfig"]

BUILDS = ("2024", "2026")
#: Build-dependent defaults. 2026: version of wa-js issue #3618 (wppconnect-team/wa-js); late
#: module registration (wa-js src/loader/index.ts waits for the module set to settle, #3481);
#: pairing codes live 3 minutes (wwebjs src/Client.js requestPairingCode intervalMs=180000,
#: "WhatsApp default to 3 minutes"; wa-js linkDeviceCodeLifecycle.ts uses 3.25 min); a slow
#: first (history) sync reported in ten steps.
BUILD_DEFAULTS: dict[str, dict[str, Any]] = {
    "2024": {"version": "2.3000.1017054665", "first_sync_ms": 0, "sync_steps": 0,
             "late_modules_ms": 0, "pairing_code_ttl_s": 0.0},
    "2026": {"version": "2.3000.1046379654", "first_sync_ms": 4000, "sync_steps": 10,
             "late_modules_ms": 1500, "pairing_code_ttl_s": 180.0},
}


@dataclass
class SimConfig:
    """Timings and identity of the simulated page; query-string keys override per page load.

    ``build`` picks the WhatsApp Web build the page models ("2024" or "2026", see BUILDS).
    Fields left at ``None`` take that build's default (BUILD_DEFAULTS); ``resolved()`` fills
    them in. ``not_on_whatsapp``, ``pn_groups`` and ``known_contacts`` are what "WhatsApp's
    servers" know; the server reads them live, so a config change applies at once.
    """

    build: str = "2024"
    version: str | None = None
    platform: str = "WEB"
    boot_ms: int = 300
    open_ms: int = 200
    sync_ms: int = 600
    #: Duration of the first sync after a new link (history sync); 0 = same as sync_ms.
    first_sync_ms: int | None = None
    #: Progress reports per sync, evenly spaced; 0 = the 2024 build's fixed 0/20/45/70/100.
    sync_steps: int | None = None
    #: 2026: modules past login register this long after Debug.VERSION appears.
    late_modules_ms: int | None = None
    #: Module names ("WAWebFindChatAction") or members ("WAWebMsgKey.newId") that never register.
    missing: list[str] = field(default_factory=list)
    ref_ttl_s: float = 20.0
    max_refs: int = 6
    #: Lifetime of a pairing code; 0 = codes never expire.
    pairing_code_ttl_s: float | None = None
    logout_nav_ms: int = 250
    ack_delay_ms: int = 150
    #: How late the server answers a sent stanza: the message is delivered, the page does not
    #: know yet (a slow or lossy network; the client then waits, as WhatsApp Web's send does
    #: for the server's ack of the stanza). 0 = at once.
    sent_reply_delay_ms: int = 0
    control_timeout_s: float = 5.0
    #: Phone numbers that are not on WhatsApp (every other 6-15 digit number is).
    not_on_whatsapp: list[str] = field(default_factory=list)
    #: 2026: groups still in phone-number addressing (every other group is LID-addressed).
    pn_groups: list[str] = field(default_factory=list)
    #: 2026: numbers whose LID the page knows right after login (address book, old chats).
    known_contacts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.build not in BUILDS:
            raise ValueError(f"build must be one of {', '.join(BUILDS)}")

    def resolved(self, build: str | None = None) -> dict[str, Any]:
        """Every field, with the build's defaults filled in (for `build`, default self.build)."""
        data = dataclasses.asdict(self)
        data["build"] = build or self.build
        if data["build"] not in BUILDS:
            raise ValueError(f"build must be one of {', '.join(BUILDS)}")
        for key, value in BUILD_DEFAULTS[data["build"]].items():
            if data[key] is None:
                data[key] = value
        return data

    def page_config(self, no_debug: bool, build: str | None = None) -> dict[str, Any]:
        """The JSON the page reads at boot."""
        data = self.resolved(build)
        for key in _SERVER_ONLY:
            del data[key]
        data["no_debug"] = no_debug
        return data

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, coercing to each field's type; unknown keys raise
        AttributeError, bad values ValueError/TypeError."""
        coerced = {}
        for key, value in changes.items():
            if key not in FIELD_TYPES:
                raise AttributeError(f"no config field {key!r}")
            coerced[key] = None if value is None and key in _NULLABLE else FIELD_TYPES[key](value)
        if "build" in coerced and coerced["build"] not in BUILDS:
            raise ValueError(f"build must be one of {', '.join(BUILDS)}")
        for key, value in coerced.items():
            setattr(self, key, value)


def _str_list(value: Any) -> list[str]:
    """A list of strings from a list or a comma-separated string."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


#: How each SimConfig field is parsed (CLI) and coerced (update, /_sim/config).
FIELD_TYPES: dict[str, Callable[[Any], Any]] = {
    "build": str, "version": str, "platform": str, "boot_ms": int, "open_ms": int,
    "sync_ms": int, "first_sync_ms": int, "sync_steps": int, "late_modules_ms": int,
    "missing": _str_list, "ref_ttl_s": float, "max_refs": int, "pairing_code_ttl_s": float,
    "logout_nav_ms": int, "ack_delay_ms": int, "sent_reply_delay_ms": int, "control_timeout_s": float,
    "not_on_whatsapp": _str_list, "pn_groups": _str_list, "known_contacts": _str_list,
}
_NULLABLE = frozenset(k for defaults in BUILD_DEFAULTS.values() for k in defaults)
_SERVER_ONLY = ("ack_delay_ms", "sent_reply_delay_ms", "control_timeout_s", "pairing_code_ttl_s",
                "not_on_whatsapp", "pn_groups", "known_contacts")
