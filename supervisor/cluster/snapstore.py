"""Where snapshots live: the store interface every backend offers, the objects' names, and the
shared-directory backend (``file:///shared/dir``: an NFS or similar mount every node sees).

Objects are named ``{session_id}/{token:020d}.tar.gz`` inside the store's prefix, so that the
newest (highest fencing token) sorts last. A reader never sees half an object: S3 makes an
upload visible only once complete, and FileStore writes a hidden temporary file beside the
final name and renames it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from supervisor.errors import SnapshotStoreError

__all__ = ["FileStore", "SnapshotStore", "StoredObject", "object_key", "parse_key"]

_KEY = re.compile(r"(?P<session>[A-Za-z0-9][A-Za-z0-9_-]{0,63})/(?P<token>[0-9]{20})\.tar\.gz")
_NAME = re.compile(r"[0-9]{20}\.tar\.gz")
_CHUNK = 1024 * 1024
T = TypeVar("T")


def object_key(session_id: str, token: int) -> str:
    """The name of a session's snapshot taken under fencing ``token``."""
    return f"{session_id}/{token:020d}.tar.gz"


def parse_key(key: str) -> tuple[str, int] | None:
    """(session id, token) of an object name; None for anything else (temporary files)."""
    found = _KEY.fullmatch(key)
    return (found["session"], int(found["token"])) if found else None


@dataclass(frozen=True)
class StoredObject:
    """One object in a store: its name (see object_key) and its size."""

    key: str
    size_bytes: int


class SnapshotStore(Protocol):
    """What Snapshots needs of a backend. Keys are ``object_key`` names; every method raises
    SnapshotStoreError when the store cannot be used, and never blocks the event loop."""

    @property
    def location(self) -> str:
        """Where the store is, for log lines and messages (never a credential)."""

    async def put(self, key: str, source: Path) -> None:
        """Upload the file ``source`` as ``key``, replacing it; readers see all or nothing."""

    async def get(self, key: str, target: Path) -> None:
        """Download ``key`` into the file ``target`` (created or truncated)."""

    async def objects(self, session_id: str) -> list[StoredObject]:
        """Every snapshot object of one session (any order)."""

    async def delete(self, keys: Sequence[str]) -> None:
        """Delete these objects (already gone is fine)."""


class FileStore:
    """Snapshots in a directory (``file:///shared/dir``): folders 0700, files 0600. The
    directory must exist: a missing one is an unmounted share, and writing into the empty
    mount point would keep snapshots on this host only."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        """The directory's URL."""
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        if parse_key(key) is None:
            raise ValueError(f"not a snapshot key: {key!r}")  # a bug of ours, never user input
        return self.root / key

    async def _run(self, what: str, fn: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except OSError as exc:
            raise SnapshotStoreError(f"snapshot store {self.location}: {what} failed: "
                                     f"{exc}") from None

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise FileNotFoundError(errno.ENOENT, f"{self.root} is not a directory (not mounted?)")

    def _put(self, key: str, source: Path) -> None:
        self._check_root()
        path = self._path(key)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")  # 0600
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())  # the data before the name: a crash leaves no empty object
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    async def put(self, key: str, source: Path) -> None:
        """Copy ``source`` in under a temporary name, then rename it to ``key``."""
        await self._run(f"writing {key}", self._put, key, source)

    def _get(self, key: str, target: Path) -> None:
        self._check_root()
        with open(self._path(key), "rb") as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)

    async def get(self, key: str, target: Path) -> None:
        """Copy ``key`` into ``target``."""
        await self._run(f"reading {key}", self._get, key, target)

    def _objects(self, session_id: str) -> list[StoredObject]:
        self._check_root()
        folder = self.root / session_id
        if not folder.is_dir():
            return []
        found = []
        for entry in folder.iterdir():
            if _NAME.fullmatch(entry.name):
                try:
                    found.append(StoredObject(f"{session_id}/{entry.name}", entry.stat().st_size))
                except FileNotFoundError:
                    continue  # pruned by another node meanwhile
        return found

    async def objects(self, session_id: str) -> list[StoredObject]:
        """The session's snapshot files (temporary files left out)."""
        return await self._run(f"listing {session_id}", self._objects, session_id)

    def _delete(self, keys: Sequence[str]) -> None:
        folders = set()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            folders.add(path.parent)
        for folder in folders:
            try:
                folder.rmdir()  # the session's folder, once it holds nothing
            except OSError:
                pass

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these files, and a session's folder left empty."""
        await self._run("deleting", self._delete, keys)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
