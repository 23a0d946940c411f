"""What a worker is told at boot: the config, turned into the wire's BootSpec."""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from typing import Any

from supervisor.config import Config
from supervisor.procs.reaper import marker_env
from supervisor.sessions.proxy import parse_proxy
from supervisor.settings import WhatsAppConfig
from worker import protocol

__all__ = ["boot_spec", "whatsapp_spec", "worker_env"]


def whatsapp_spec(config: WhatsAppConfig) -> protocol.WhatsAppSpec:
    """The ``whatsapp`` part of a worker's boot spec: the ``[whatsapp]`` keys the wire's
    WhatsAppSpec names (so a new option is declared in the config section and the spec only)."""
    spec = {}
    for key in typing.get_type_hints(protocol.WhatsAppSpec):
        value = getattr(config, key)
        spec[key] = list(value) if isinstance(value, tuple) else value
    return typing.cast(protocol.WhatsAppSpec, spec)


def boot_spec(cfg: Config, session_id: str, profile_dir: str, tmp_dir: str,
              headless: bool | None = None, options: Mapping[str, Any] | None = None,
              lease_until: float | None = None) -> protocol.BootSpec:
    """The ``boot`` request's arguments for one session (``headless``: the session's own
    choice, else ``[chrome] headless``; ``options``: its stored options, sessions.options;
    ``lease_until``: the worker's first lease, sessions.fencing; None: no lease).
    A proxy travels here, over the socket: never on a command line or in an environment."""
    spec: protocol.BootSpec = {
        "session_id": session_id,
        "profile_dir": profile_dir,
        "tmp_dir": tmp_dir,
        "url": cfg.whatsapp.url,
        "chrome_executable": cfg.chrome.executable,
        "chrome_headless": cfg.chrome.headless if headless is None else headless,
        "chrome_extra_args": list(cfg.chrome.extra_args),
        "chrome_user_agent": cfg.chrome.user_agent,
        "chrome_lean": list(cfg.chrome.lean),
        "chrome_js_heap_max_mb": cfg.chrome.js_heap_max_mb,
        "launch_timeout_s": cfg.chrome.launch_timeout_s,
        "page_timeout_s": cfg.chrome.page_timeout_s,
        "heartbeat_interval_s": cfg.limits.heartbeat_interval_s,
        "probe_interval_s": cfg.limits.probe_interval_s,
        "close_timeout_s": cfg.chrome.close_timeout_s,
        "whatsapp": whatsapp_spec(cfg.whatsapp),
    }
    if options and options.get("proxy"):
        spec["proxy"] = parse_proxy(options["proxy"])
    if lease_until is not None:
        spec["lease_until_monotonic"] = lease_until
    return spec


def worker_env(config: Config, session_id: str, headless: bool | None) -> dict[str, str]:
    """A worker's own variables: its markers, and the display's for a windowed Chrome
    (``headless`` overrides ``[chrome] headless`` when not None)."""
    env = marker_env(config.state_dir, session_id)
    if not (config.chrome.headless if headless is None else headless):
        env.update((k, v) for k, v in os.environ.items() if k in protocol.DISPLAY_ENV)
    return env
