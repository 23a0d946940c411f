"""Media sent and received: ``[media]``."""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.settings.rules import require

__all__ = ["MediaConfig"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class MediaConfig:
    """[media]: size limits per kind (WhatsApp's own by default: 16 MB for photos, videos and
    audio, 100 MB for documents on WhatsApp Web, 500 KB for an animated sticker), fetching media
    from URLs, downloads of received media, and number checks."""

    max_image_bytes: int = 16 * _MIB
    max_video_bytes: int = 16 * _MIB
    max_audio_bytes: int = 16 * _MIB  # audio files and voice notes
    max_document_bytes: int = 100 * _MIB
    max_sticker_bytes: int = 512 * 1024
    max_download_bytes: int = 100 * _MIB
    url_timeout_s: float = 30.0
    allow_private_networks: bool = False
    transfer_timeout_s: float = 300.0
    auto_download: bool = False
    keep_days: float = 7.0
    check_batch_max: int = 50
    check_interval_s: float = 2.0

    def __post_init__(self) -> None:
        for key in ("max_image_bytes", "max_video_bytes", "max_audio_bytes", "max_document_bytes",
                    "max_sticker_bytes", "max_download_bytes"):
            require(getattr(self, key) >= 1024, key, "must be at least 1024")
        for key in ("url_timeout_s", "transfer_timeout_s", "keep_days"):
            require(getattr(self, key) > 0, key, "must be > 0")
        require(1 <= self.check_batch_max <= 1000, "check_batch_max", "must be from 1 to 1000")
        require(self.check_interval_s >= 0, "check_interval_s", "must be >= 0")

    def max_bytes(self, kind: str) -> int:
        """The limit for a media kind (protocol.MediaKind: a voice note is audio)."""
        key = {"ptt": "audio"}.get(kind, kind)
        return int(getattr(self, f"max_{key}_bytes"))
