"""The page driver: ``[whatsapp]``."""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.settings.rules import require

__all__ = ["WhatsAppConfig"]


@dataclass(frozen=True)
class WhatsAppConfig:
    """[whatsapp]: the page each session opens, how it is followed, what it does with messages."""

    url: str = "https://web.whatsapp.com/"
    driver: str = "whatsapp"
    ready_timeout_s: float = 60.0
    qr_timeout_s: float = 60.0
    qr_max_refreshes: int = 10
    pairing_code_interval_s: float = 180.0
    takeover_on_conflict: bool = False
    send_timeout_s: float = 30.0
    max_text_chars: int = 65536
    ignore_groups: bool = False
    ignore_status: bool = True
    ignore_newsletters: bool = True
    commands: tuple[str, ...] = ()
    command_prefix: str = "!"

    def __post_init__(self) -> None:
        require(bool(self.url), "url", "must not be empty")
        require(self.driver in ("whatsapp", "basic"), "driver", "must be whatsapp or basic")
        for key in ("ready_timeout_s", "qr_timeout_s", "send_timeout_s", "pairing_code_interval_s"):
            require(getattr(self, key) > 0, key, "must be > 0")
        require(self.qr_max_refreshes >= 1, "qr_max_refreshes", "must be at least 1")
        require(self.max_text_chars >= 1, "max_text_chars", "must be at least 1")
        require(set(self.commands) <= {"ping", "help", "info"}, "commands",
                 "may only list ping, help, info")
        require(bool(self.command_prefix.strip()), "command_prefix", "must not be blank")
