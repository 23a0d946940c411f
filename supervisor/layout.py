"""The state directory's layout: every path of it is built here and nowhere else.

::

    <state>/
      zapvisor.db            sessions, events, deliveries (SQLite, WAL)
      zapvisor.lock          one daemon per state directory (flock)
      api_key                the generated API key (0600)
      sessions/<id>/         one folder per session (0700)
        profile/             its Chrome profile: the WhatsApp login
        tmp/                 its Chrome's TMPDIR (swept at boot)
          zv-media/          media in transit between the daemon and the worker
        media/               received media saved by [media] auto_download (kept keep_days)
        outbox/              files of queued sends, until each is sent
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from worker import protocol

__all__ = ["StateLayout"]


@dataclass(frozen=True)
class StateLayout:
    """The paths of one state directory (``root`` is absolute)."""

    root: Path

    @property
    def database(self) -> Path:
        """The SQLite database."""
        return self.root / "zapvisor.db"

    @property
    def lock_file(self) -> Path:
        """The file the daemon holds an flock on while it runs."""
        return self.root / "zapvisor.lock"

    @property
    def api_key(self) -> Path:
        """Where a generated API key is kept."""
        return self.root / "api_key"

    @property
    def sessions(self) -> Path:
        """The folder of every session's folder."""
        return self.root / "sessions"

    def session_dir(self, session_id: str) -> Path:
        """Everything of one session."""
        return self.sessions / session_id

    def profile_dir(self, session_id: str) -> Path:
        """A session's Chrome profile."""
        return self.session_dir(session_id) / "profile"

    def tmp_dir(self, session_id: str) -> Path:
        """A session's Chrome scratch space (its TMPDIR)."""
        return self.session_dir(session_id) / "tmp"

    def media_scratch(self, session_id: str) -> Path:
        """Media in transit between the daemon and the session's worker (protocol.MEDIA_SCRATCH)."""
        return self.tmp_dir(session_id) / protocol.MEDIA_SCRATCH

    def send_files(self, session_id: str) -> Path:
        """Files of the session's queued sends (supervisor/sending), kept until each is sent."""
        return self.session_dir(session_id) / "outbox"

    def queued_files(self) -> Iterator[Path]:
        """Every session's queued files (send_files)."""
        return self.sessions.glob("*/outbox/*")

    def media_dir(self, session_id: str) -> Path:
        """Received media saved automatically ([media] auto_download)."""
        return self.session_dir(session_id) / "media"
