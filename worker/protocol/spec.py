"""The boot request's arguments: everything a worker needs to start its session."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class WhatsAppSpec(TypedDict):
    """How the WhatsApp driver follows its page (the supervisor's ``[whatsapp]`` config)."""

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
    commands: list[str]
    command_prefix: str


class BootSpec(TypedDict):
    """Everything a worker needs to start its session, sent as the args of ``boot``."""

    session_id: str
    profile_dir: str
    tmp_dir: str
    url: str
    chrome_executable: str  # "" = find one
    chrome_headless: bool
    chrome_extra_args: list[str]
    chrome_user_agent: str  # "" = Chrome's own
    launch_timeout_s: float
    page_timeout_s: float
    heartbeat_interval_s: float
    probe_interval_s: float  # CDP probes (their latest results ride on the heartbeats)
    close_timeout_s: float
    whatsapp: NotRequired[WhatsAppSpec]  # absent: the basic driver
