"""The dotenv rewrite (supervisor/sessions/dotenv.py): only the keys asked for change, every other
byte of the file stays; the file is replaced atomically with its mode and owner."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from supervisor.sessions.dotenv import HEADER, read_text, render, write_atomic

LARAVEL = (
    "APP_NAME=Laravel\n"
    "# WhatsApp\n"
    "export WHATSAPP_SELLS_SESSION = old-session # set by hand\n"
    'WHATSAPP_SELLS_PHONE="111"\n'
    "\n"
    'PRIVATE_KEY="-----BEGIN KEY-----\n'
    "WHATSAPP_SELLS_URL=not-a-line-of-its-own\n"
    '-----END KEY-----"\n'
    "WHATSAPP_SELLS_URL=http://old/x\n"
    "WHATSAPP_SELLS_URL=http://duplicate/x\n"
    "DB_PASSWORD='s3cr#t' # the # inside quotes is not a comment\n"
    "WHATSAPP_API_URL=https://graph.example.com\n"
)
VALUES = {"WHATSAPP_SELLS_SESSION": "abc", "WHATSAPP_SELLS_PHONE": "5511999",
          "WHATSAPP_SELLS_URL": "http://127.0.0.1:8083/api/sessions/abc/send-message"}


def test_render_changes_only_the_keys_asked_for() -> None:
    out = render(LARAVEL, VALUES)
    assert out == (
        "APP_NAME=Laravel\n"
        "# WhatsApp\n"
        "export WHATSAPP_SELLS_SESSION = abc # set by hand\n"
        'WHATSAPP_SELLS_PHONE="5511999"\n'
        "\n"
        'PRIVATE_KEY="-----BEGIN KEY-----\n'
        "WHATSAPP_SELLS_URL=not-a-line-of-its-own\n"  # inside a multi-line value: untouched
        '-----END KEY-----"\n'
        "WHATSAPP_SELLS_URL=http://127.0.0.1:8083/api/sessions/abc/send-message\n"
        "WHATSAPP_SELLS_URL=http://127.0.0.1:8083/api/sessions/abc/send-message\n"
        "DB_PASSWORD='s3cr#t' # the # inside quotes is not a comment\n"
        "WHATSAPP_API_URL=https://graph.example.com\n"  # not a key of ours
    )
    assert render(out, VALUES) == out


def test_missing_keys_are_appended_once_under_a_header() -> None:
    values = {"WHATSAPP_NEW_SESSION": "n", "WHATSAPP_NEW_PHONE": ""}
    out = render("A=1", values)  # no final newline
    assert out == f"A=1\n\n{HEADER}\nWHATSAPP_NEW_SESSION=n\nWHATSAPP_NEW_PHONE=\n"
    more = render(out, {**values, "WHATSAPP_OTHER_SESSION": "o"})
    assert more == out + "WHATSAPP_OTHER_SESSION=o\n"
    assert render("", {"K": "v"}) == f"{HEADER}\nK=v\n"


def test_crlf_and_odd_bytes_are_kept(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=caf\xe9\r\nWHATSAPP_X_SESSION=a\r\n# end\r\n")
    write_atomic(path, render(read_text(path), {"WHATSAPP_X_SESSION": "b", "WHATSAPP_X_PHONE": "1"}))
    assert path.read_bytes() == (b"A=caf\xe9\r\nWHATSAPP_X_SESSION=b\r\n# end\r\n\r\n"
                                 + HEADER.encode() + b"\r\nWHATSAPP_X_PHONE=1\r\n")


def test_a_rewritten_multiline_value_loses_its_old_lines() -> None:
    text = 'WHATSAPP_X_SESSION="a\nb"\nNEXT=1\n'
    assert render(text, {"WHATSAPP_X_SESSION": "c"}) == 'WHATSAPP_X_SESSION="c"\nNEXT=1\n'


def test_write_is_atomic_and_keeps_mode_and_owner(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\n")
    os.chmod(path, 0o640)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)  # nobody: a file that is not ours
    before = path.stat()
    with path.open() as reader:
        write_atomic(path, "A=2\n")
        assert reader.read() == "A=1\n"  # a new file renamed over the old one, not a rewrite
    after = path.stat()
    assert path.read_text() == "A=2\n"
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]  # no temporary file left


def test_a_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / ".env").write_text("A=1\n")
    link = tmp_path / ".env"
    link.symlink_to(shared / ".env")
    write_atomic(link, "A=2\n")
    assert link.is_symlink() and (shared / ".env").read_text() == "A=2\n"


def test_a_new_file_is_private_and_a_failure_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    write_atomic(path, "A=1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing-dir" / ".env", "A=1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]
