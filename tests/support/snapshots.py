"""Profiles and archives for the snapshot tests: a profile laid out as Chrome lays one out (the
login folders with their LevelDB files, caches, cookies, singleton links), a listing of a tree
to compare before and after, and tar.gz files built by hand the way an attacker would.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

__all__ = ["LOGIN_FILES", "hostile_archive", "listing", "make_profile"]

_IDB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
_BLOB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00/7"
_LS = "Default/Local Storage/leveldb"

#: The files a snapshot carries from make_profile's profile (relative path -> content).
LOGIN_FILES = {
    f"{_IDB}/000003.log": b"wawc:keys " * 300,
    f"{_IDB}/000005.ldb": bytes(range(256)) * 1200,
    f"{_IDB}/CURRENT": b"MANIFEST-000004\n",
    f"{_IDB}/MANIFEST-000004": b"\x00leveldb.BytewiseComparator",
    _BLOB: b"media blob",
    f"{_LS}/000003.log": b"_https://web.whatsapp.com\x00\x01WebEncKeySalt",
    f"{_LS}/CURRENT": b"MANIFEST-000001\n",
    f"{_LS}/MANIFEST-000001": b"\x00leveldb.BytewiseComparator",
}

#: What a snapshot must leave behind: caches, cookies, LevelDB's lock and info logs, singletons.
_OTHER_FILES = {
    f"{_IDB}/LOCK": b"",
    f"{_IDB}/LOG": b"leveldb info log",
    f"{_LS}/LOCK": b"",
    f"{_LS}/LOG.old": b"leveldb old info log",
    "Default/Cookies": b"SQLite format 3\x00",
    "Default/Cache/Cache_Data/index": b"cache index",
    "Default/Code Cache/js/index": b"code cache",
    "Default/GPUCache/data_0": b"gpu",
    "Default/DawnWebGPUCache/data_0": b"dawn",
    "Default/Service Worker/Database/CURRENT": b"MANIFEST-000001\n",
    "Default/Session Storage/CURRENT": b"MANIFEST-000001\n",
    "Default/Preferences": b"{}",
    "Local State": b"{}",
}


def make_profile(profile: Path, salt: bytes = b"") -> None:
    """A closed Chrome profile with a WhatsApp login (``salt`` changes the login's bytes), files
    0644 and folders 0755 as a careless copy would leave them, and links that must not travel."""
    for rel, content in {**LOGIN_FILES, **_OTHER_FILES}.items():
        path = profile / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content + (salt if rel in LOGIN_FILES else b""))
        path.chmod(0o644)
    for folder in [profile, *(p for p in profile.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    (profile / "SingletonLock").symlink_to("otherhost-4242")
    (profile / "Default/IndexedDB/passwd").symlink_to("/etc/passwd")
    (profile / "Default/Local Storage/outside").symlink_to("/etc", target_is_directory=True)


def listing(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``root``: relative path -> (kind, mode, content for files)."""
    found: dict[str, tuple[str, int, bytes]] = {}
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            try:  # a live Chrome's own files may go while we look
                st = path.lstat()
                kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
                content = path.read_bytes() if kind == "file" else b""
            except FileNotFoundError:
                continue
            found[path.relative_to(root).as_posix()] = (kind, stat.S_IMODE(st.st_mode), content)
    return found


def hostile_archive(target: Path, members: list[tarfile.TarInfo]) -> Path:
    """A tar.gz with a good login file first (so a careless extractor starts writing), then
    ``members`` (regular members get a few bytes of data)."""
    with tarfile.open(target, "w:gz") as tar:
        good = tarfile.TarInfo(f"{_LS}/CURRENT")
        good.size = 4
        tar.addfile(good, io.BytesIO(b"evil"))
        for member in members:
            data = b"pwned" if member.isreg() else None
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return target
