"""A daemon with an /etc/hosts of its own: a host name that resolves to 127.0.0.1 only inside
the daemon's mount namespace, so the daemon meets a name like any other and learns its private
address only when it connects (as after a DNS rebinding). The host's own file is untouched."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

__all__ = ["REBOUND", "own_hosts"]

#: The name that resolves to 127.0.0.1 in the daemon's own /etc/hosts.
REBOUND = "receiver.rebound.test"
_CLONE_NEWNS, _MS_REC, _MS_PRIVATE, _MS_BIND = 0x00020000, 0x4000, 0x40000, 0x1000


def own_hosts(folder: Path) -> Callable[[], None]:
    """For ``preexec_fn``: the daemon gets a mount namespace of its own, in which a hosts file
    written in ``folder`` (localhost and REBOUND at 127.0.0.1) is /etc/hosts. Needs root, as
    the suite runs in CI."""
    hosts = folder / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {REBOUND}\n")

    def enter() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        for ok in (libc.unshare(_CLONE_NEWNS) == 0,
                   libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) == 0,
                   libc.mount(str(hosts).encode(), b"/etc/hosts", None, _MS_BIND, None) == 0):
            if not ok:
                raise OSError(ctypes.get_errno(), "cannot give the daemon its own /etc/hosts")
    return enter
