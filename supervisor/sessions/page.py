"""What a session's page told about itself: the WhatsApp Web build it runs, the first sync's
progress, the pairing code on offer. Kept per session, shown in its info, ``/api/stats`` and
``/metrics``; the events themselves also go to the bus."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from worker import protocol

__all__ = ["PageFacts"]


@dataclass
class PageFacts:
    """The latest of each fact (None until the page said it)."""

    wa_version: str | None = None
    sync_percent: float | None = None
    pairing_code: str | None = None
    pairing_expires_at: float = 0.0  # wall clock, for display

    def update(self, event: str, data: dict[str, Any]) -> None:
        """Take in one worker event (others are ignored)."""
        if event in (protocol.EV_PAGE, protocol.EV_INCOMPATIBLE) and data.get("wa_version"):
            self.wa_version = str(data["wa_version"])
        elif event == protocol.EV_SYNC and isinstance(data.get("percent"), (int, float)):
            self.sync_percent = float(data["percent"])
        elif event == protocol.EV_PAIRING_CODE and data.get("code"):
            self.pairing_code = str(data["code"])
            expires = data.get("expires_in_s")
            self.pairing_expires_at = time.time() + float(expires) if expires else 0.0
