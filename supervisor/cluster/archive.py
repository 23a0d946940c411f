"""The files of a Chrome profile that hold the WhatsApp login, and the tar.gz that carries them:
built from a closed profile, checked member by member before a single byte is written back, and
swapped in place of the old profile in one rename.

Blocking throughout (file and zlib work): call from a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import ctypes
import errno
import gzip
import os
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from supervisor.errors import BadSnapshot, Overloaded

__all__ = ["LOGIN_DIRS", "ArchiveStats", "build", "extract", "login_files", "remove_leftovers", "swap_in"]

#: What holds the login (see supervisor/cluster/snapshots.py for the measurement behind it).
LOGIN_DIRS = (PurePosixPath("Default/IndexedDB"), PurePosixPath("Default/Local Storage"))
#: LevelDB's lock and its human-readable info log: recreated at open, never data.
_SKIP_NAMES = frozenset({"LOCK", "LOG", "LOG.old"})
#: Free space kept on the profile's disk after a restore (the profile grows as it runs).
_SPARE_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
#: zlib's fastest level. A large account's IndexedDB is mostly encrypted, so no level shrinks it,
#: and the save is part of the session's downtime on a move; on text, level 6 (the default)
#: takes ~2.8x the time of level 1 for ~20% fewer bytes (measured here).
_COMPRESS_LEVEL = 1


@dataclass(frozen=True)
class ArchiveStats:
    """What an archive holds: regular files and their bytes before compression."""

    files: int
    raw_bytes: int


def login_files(profile: Path) -> list[PurePosixPath]:
    """The profile's login files and folders (relative, folders first, sorted); symbolic links
    and anything but regular files and folders are left out."""
    found: list[PurePosixPath] = []
    for top in LOGIN_DIRS:
        if not (profile / top).is_dir() or (profile / top).is_symlink():
            continue
        for parent in reversed(top.parents[:-1]):
            if parent not in found:
                found.append(parent)
        for dirpath, dirnames, filenames in os.walk(profile / top):
            here = Path(dirpath)
            found.append(PurePosixPath(here.relative_to(profile).as_posix()))
            dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
            for name in sorted(filenames):
                mode = (here / name).lstat().st_mode
                if name not in _SKIP_NAMES and stat.S_ISREG(mode):
                    found.append(PurePosixPath((here / name).relative_to(profile).as_posix()))
    return found


def build(profile: Path, target: Path) -> ArchiveStats:
    """Write the login files of ``profile`` (closed: no Chrome may run on it) as a tar.gz into
    ``target``; members are stored 0600/0700 without owner names."""
    files = raw = 0
    with open(target, "wb") as out, tarfile.open(fileobj=out, mode="w:gz",
                                                 compresslevel=_COMPRESS_LEVEL) as tar:
        for rel in login_files(profile):
            path = profile / rel
            info = tarfile.TarInfo(rel.as_posix())
            if path.is_dir():
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, int(path.stat().st_mtime)
                tar.addfile(info)
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as src:
                st = os.fstat(src.fileno())
                info.size, info.mode, info.mtime = st.st_size, 0o600, int(st.st_mtime)
                tar.addfile(info, src)
            files, raw = files + 1, raw + st.st_size
    return ArchiveStats(files, raw)


def _member_path(member: tarfile.TarInfo) -> PurePosixPath:
    """The member's relative path, or BadSnapshot if it could land outside the profile."""
    name = member.name
    parts = name.split("/")
    if (not name or name.startswith("/") or "\x00" in name or "\\" in name
            or any(p in ("", ".", "..") for p in parts)):
        raise BadSnapshot(f"snapshot member {name!r} is not a plain relative path")
    if not (member.isdir() or member.type in (tarfile.REGTYPE, tarfile.AREGTYPE)):
        raise BadSnapshot(f"snapshot member {name!r} is not a regular file or folder "
                          "(links, devices and sparse files are refused)")
    return PurePosixPath(name)


def _wanted(path: PurePosixPath, is_dir: bool) -> bool:
    """A file inside a login folder; a folder that is one, is inside one, or holds one."""
    return any(top in path.parents or (is_dir and (path == top or path in top.parents))
               for top in LOGIN_DIRS)


def _plan(members: list[tarfile.TarInfo]) -> tuple[list[tuple[PurePosixPath, tarfile.TarInfo]], int]:
    """Every member checked (any bad one refuses the whole archive); the wanted ones and the
    bytes they will take. Members outside the login folders are left out: a newer version may
    carry more, and nothing else of a profile (extensions, preferences) is ever restored."""
    seen: set[PurePosixPath] = set()
    plan = []
    total = 0
    for member in members:
        path = _member_path(member)
        if path in seen:
            raise BadSnapshot(f"snapshot member {member.name!r} appears twice")
        seen.add(path)
        if _wanted(path, member.isdir()):
            plan.append((path, member))
            total += member.size if member.isfile() else 0
    files = {path for path, member in plan if member.isfile()}
    for path, member in plan:
        if any(parent in files for parent in path.parents):
            raise BadSnapshot(f"snapshot member {member.name!r} lies inside a file")
    return plan, total


def extract(archive: Path, dest: Path) -> ArchiveStats:
    """Check every member of ``archive``, then write the login files into ``dest`` (a new,
    empty folder): folders 0700, files 0600. BadSnapshot if the archive is not a gzip tar or
    any member is unsafe; then nothing has been written."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            plan, total = _plan(tar.getmembers())  # reads the whole stream: truncation fails here
            free = shutil.disk_usage(dest).free
            if total + _SPARE_BYTES > free:
                raise Overloaded(f"a snapshot of {total} bytes does not fit in {free} free bytes "
                                 f"on {dest.parent}")
            files = 0
            for path, member in plan:
                _write(tar, member, dest / path)
                files += 0 if member.isdir() else 1
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BadSnapshot(f"snapshot {archive.name} is not a readable tar.gz: {exc}") from None
    return ArchiveStats(files, total)


def _mkdirs(path: Path) -> None:
    """``path`` and its missing parents as private folders (never through a link: the folder
    we extract into is new and only we create entries in it)."""
    if not path.is_dir():
        _mkdirs(path.parent)
        path.mkdir(mode=0o700)
        path.chmod(0o700)  # the umask may have taken bits; make it exactly 0700


def _write(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    if member.isdir():
        _mkdirs(target)
        return
    _mkdirs(target.parent)
    src = tar.extractfile(member)
    assert src is not None  # a regular member always has data
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        while chunk := src.read(_CHUNK):
            out.write(chunk)
    os.utime(target, (member.mtime, member.mtime))


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def swap_in(new: Path, profile: Path) -> None:
    """Put the folder ``new`` in place of ``profile`` (which may not exist) in one step, then
    delete the old one: a reader (or a crash) sees the old profile or the new, never a mix."""
    if not os.path.lexists(profile):
        os.rename(new, profile)
        return
    if _exchange(new, profile):
        _remove(new)  # now the old profile
        return
    # Without an atomic exchange: profile is missing between two renames, never half-written.
    old = new.with_name(new.name + "-old")
    os.rename(profile, old)
    os.rename(new, profile)
    _remove(old)


def remove_leftovers(folder: Path, prefixes: tuple[str, ...]) -> None:
    """Remove the entries of ``folder`` whose names start with one of ``prefixes``: what an
    interrupted save or restore left beside the profile."""
    for entry in folder.iterdir():
        if entry.name.startswith(prefixes):
            _remove(entry)
