"""Profile snapshots: a session's WhatsApp login, carried between hosts through an object store.

A snapshot is a tar.gz of only the profile folders that hold the login, taken after Chrome
closed in order (never of a live profile: :class:`ProfileInUse`), stamped with the session's
fencing token (``{session_id}/{token:020d}.tar.gz``) and uploaded; a session starting on
another host restores the newest (highest token) first. The two newest per session are kept.

What holds the login, measured (tests/bench/bench_snapshots.py ``--folders``: log a session in
on the simulator, stop it in order, keep only a subset of its profile, start it again):

    profile subset kept, alone               bytes     next start
    the whole profile (72 files)             1.86 MB   WORKING
    nothing                                  0         SCAN_QR_CODE
    Default/Local Storage                    0.9 kB    SCAN_QR_CODE
    Default/IndexedDB                        2.8 kB    WORKING
    IndexedDB + Local Storage (what we keep) 3.8 kB    WORKING, the same linked device, hop after hop
    IndexedDB + Local Storage + Cookies      24 kB     WORKING (Cookies add nothing)

(chromium-headless-shell 156; the simulator's 2024 and 2026 builds alike.) Of the 1.86 MB,
1.7 MB are GPU and Dawn caches. The snapshot: 6 files, 3.1 kB raw, 1.8 kB as tar.gz; save
6 ms and restore 5 ms through a shared directory, about 60 ms each through S3 (moto on
loopback). With 50 / 200 MB of random bytes added to IndexedDB (a large account, worst case:
encrypted data does not compress): save 2.4 / 8.4 s (gzip of incompressible data runs at
~25-30 MB/s on one core here, and the save is part of a move's downtime: hence level 1),
restore 0.26 / 1.0 s from a directory, 0.6 / 5.3 s from moto.

Public facts agree: whatsapp-web.js's RemoteAuth keeps ``Default/IndexedDB`` and ``Default/Local
Storage`` only (src/authStrategies/RemoteAuth.js, ``requiredDirs``); WhatsApp Web's multi-device
keys live in IndexedDB (``wawc``, ``wawc_db_enc``, ``signal-storage``) with part of its state in
localStorage, and localStorage alone restores no login (whatsapp-web.js #1568, WaWebSessionHandler
#15). The simulator keeps its login in IndexedDB only (tests/wasim/static/setup.js): Local Storage
is kept on those facts, for a few kB. Left out, like RemoteAuth does: caches (``Cache``, ``Code
Cache``, ``GPUCache``, ``Dawn*Cache``, ``Shared Dictionary``), ``Cookies``, ``Session Storage``,
``Service Worker``, ``WebStorage`` (the quota database: rebuilt at start, measured above),
LevelDB's ``LOCK`` and ``LOG`` files, ``Singleton*``. IndexedDB is kept per origin: a snapshot
holds a login for the same ``[whatsapp] url`` only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from supervisor.cluster import archive
from supervisor.cluster.profilelock import profile_user
from supervisor.cluster.snapstore import (
    FileStore,
    SnapshotStore,
    StoredObject,
    object_key,
    parse_key,
)
from supervisor.errors import (
    BadSnapshot,
    ConfigError,
    Conflict,
    InvalidRequest,
    NotFound,
    ProfileInUse,
    ZapvisorError,
)
from supervisor.logs import get_logger
from supervisor.settings import SESSION_ID_RE, SnapshotsConfig

__all__ = ["KEEP", "SnapshotInfo", "SnapshotStore", "Snapshots", "open_store"]

#: Snapshots kept per session: the newest, and the one before in case the newest cannot be read.
KEEP = 2
#: Leftovers of an interrupted save or restore, beside the profile (swept before the next one).
_SCRATCH = (".snapshot-", ".profile-restore-")


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot: its object, its size in the store (compressed) and, for a save or a
    restore just done, how many files, how many bytes before compression, how long it took."""

    session_id: str
    token: int
    key: str
    size_bytes: int
    files: int | None = None
    raw_bytes: int | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON."""
        return asdict(self)


def open_store(cfg: SnapshotsConfig) -> SnapshotStore:
    """The store ``[snapshots] url`` names (S3 loads boto3 here, and only here)."""
    if cfg.scheme == "file":
        return FileStore(Path(cfg.directory))
    if cfg.scheme == "s3":
        from supervisor.cluster.s3store import S3Store

        return S3Store(cfg)
    raise ConfigError("[snapshots] url is empty: no snapshot store is configured")


def _check(session_id: str, token: int = 0) -> None:
    if not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
        raise InvalidRequest(f"invalid session id {session_id!r}")
    if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < 10**20:
        raise InvalidRequest(f"fencing token must be an integer from 0 to 10^20-1, got {token!r}")


def _newest(found: list[StoredObject]) -> tuple[int, StoredObject] | None:
    ranked = [(parsed[1], obj) for obj in found if (parsed := parse_key(obj.key))]
    return max(ranked, key=lambda pair: pair[0], default=None)


class Snapshots:
    """Save, restore, list and delete sessions' snapshots in one store. Scratch files go beside
    the profile (in the session's folder of the state directory, so on the same disk as the
    profile, 0600/0700). One operation at a time per session on this node."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def _refuse_live(self, session_id: str, profile_dir: Path, doing: str) -> None:
        user = await asyncio.to_thread(profile_user, profile_dir)
        if user is not None:
            raise ProfileInUse(f"cannot {doing} session {session_id}'s profile: a Chrome still "
                               f"uses it ({user}); stop the session first")

    async def save(self, session_id: str, token: int, profile_dir: Path) -> SnapshotInfo:
        """Archive the login folders of the (closed) profile and upload them under ``token``;
        then prune the session's older snapshots. ProfileInUse if a Chrome holds the profile
        (checked before and after reading it), Conflict if the store has a higher token
        (this node's ownership is stale) or the profile has no IndexedDB at all. Save only a
        session that was logged in: a snapshot of a profile showing a QR code wins over an
        older one that held the login."""
        _check(session_id, token)
        log = get_logger(session_id=session_id)
        async with self._lock(session_id):
            started = time.monotonic()
            if not profile_dir.is_dir():
                raise NotFound(f"session {session_id} has no profile at {profile_dir}")
            await self._refuse_live(session_id, profile_dir, "snapshot")
            if not (profile_dir / archive.LOGIN_DIRS[0]).is_dir():
                raise Conflict(f"session {session_id}'s profile holds no login (no {archive.LOGIN_DIRS[0]})")
            existing = await self.store.objects(session_id)
            newest = _newest(existing)
            if newest is not None and newest[0] > token:
                raise Conflict(f"session {session_id}: token {token} is stale, the snapshot store "
                               f"already has token {newest[0]}")
            await asyncio.to_thread(archive.remove_leftovers, profile_dir.parent, _SCRATCH)
            fd, name = tempfile.mkstemp(dir=profile_dir.parent, prefix=_SCRATCH[0], suffix=".tar.gz")
            os.close(fd)
            scratch, key = Path(name), object_key(session_id, token)
            try:
                stats = await asyncio.to_thread(archive.build, profile_dir, scratch)
                # A Chrome that opened the profile while we read it may have torn the copy.
                await self._refuse_live(session_id, profile_dir, "snapshot")
                size = scratch.stat().st_size
                await self.store.put(key, scratch)
            finally:
                scratch.unlink(missing_ok=True)
            info = SnapshotInfo(session_id, token, key, size, stats.files, stats.raw_bytes,
                                round(time.monotonic() - started, 3))
            log.info("snapshot.saved", key=key, store=self.store.location, size_bytes=size,
                     raw_bytes=stats.raw_bytes, files=stats.files, seconds=info.seconds)
            await self._prune(session_id, [*existing, StoredObject(key, size)])
            return info

    async def _prune(self, session_id: str, found: list[StoredObject]) -> None:
        """Delete all but the KEEP newest; a failure is logged, not raised (the save stands)."""
        ranked = sorted({obj.key for obj in found if parse_key(obj.key)}, reverse=True)
        old = ranked[KEEP:]  # zero-padded tokens: the names sort as the tokens do
        if not old:
            return
        try:
            await self.store.delete(old)
        except ZapvisorError as exc:
            get_logger(session_id=session_id).warning("snapshot.prune_failed", keys=old, error=exc.message)

    async def restore(self, session_id: str, profile_dir: Path) -> SnapshotInfo | None:
        """Replace ``profile_dir`` (which may not exist) with the newest sound snapshot's login
        folders, in one rename; None (and nothing changed) if the store has none. Each archive
        is checked whole before anything is written: one that is refused (BadSnapshot: torn,
        not ours) is logged and the next older one is tried (the store keeps ``KEEP``), so one
        bad upload never keeps a session from its login; BadSnapshot if none is sound.
        ProfileInUse if a Chrome holds the profile."""
        _check(session_id)
        log = get_logger(session_id=session_id)
        async with self._lock(session_id):
            ranked = sorted(((parsed[1], obj) for obj in await self.store.objects(session_id)
                             if (parsed := parse_key(obj.key))), key=lambda pair: pair[0], reverse=True)
            for i, (token, obj) in enumerate(ranked):
                try:
                    return await self._restore_one(session_id, token, obj, profile_dir)
                except BadSnapshot as exc:
                    log.error("snapshot.refused", key=obj.key, store=self.store.location, error=exc.message,
                              fallback=ranked[i + 1][1].key if i + 1 < len(ranked) else None)
                    if i + 1 == len(ranked):
                        raise
            return None

    async def _restore_one(self, session_id: str, token: int, obj: StoredObject,
                           profile_dir: Path) -> SnapshotInfo:
        log = get_logger(session_id=session_id)
        started = time.monotonic()
        await self._refuse_live(session_id, profile_dir, "replace")
        parent = profile_dir.parent
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        await asyncio.to_thread(archive.remove_leftovers, parent, _SCRATCH)
        fd, name = tempfile.mkstemp(dir=parent, prefix=_SCRATCH[0], suffix=".tar.gz")
        os.close(fd)
        scratch = Path(name)
        fresh = Path(tempfile.mkdtemp(dir=parent, prefix=_SCRATCH[1]))  # 0700
        try:
            await self.store.get(obj.key, scratch)
            stats = await asyncio.to_thread(archive.extract, scratch, fresh)
            await self._refuse_live(session_id, profile_dir, "replace")
            await asyncio.to_thread(archive.swap_in, fresh, profile_dir)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, fresh, True)
            raise
        finally:
            scratch.unlink(missing_ok=True)
        info = SnapshotInfo(session_id, token, obj.key, obj.size_bytes, stats.files,
                            stats.raw_bytes, round(time.monotonic() - started, 3))
        log.info("snapshot.restored", key=obj.key, store=self.store.location,
                 size_bytes=obj.size_bytes, files=stats.files, seconds=info.seconds)
        return info

    async def latest(self, session_id: str) -> SnapshotInfo | None:
        """The session's newest snapshot (key, token, size), or None."""
        _check(session_id)
        if (found := _newest(await self.store.objects(session_id))) is None:
            return None
        return SnapshotInfo(session_id, found[0], found[1].key, found[1].size_bytes)

    async def delete(self, session_id: str) -> int:
        """Delete every snapshot of the session (it was deleted); how many there were."""
        _check(session_id)
        async with self._lock(session_id):
            keys = [obj.key for obj in await self.store.objects(session_id)]
            await self.store.delete(keys)
        if keys:
            get_logger(session_id=session_id).info("snapshot.deleted", count=len(keys),
                                                   store=self.store.location)
        return len(keys)

