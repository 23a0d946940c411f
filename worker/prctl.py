"""The Linux process controls (prctl) the worker, the zygote and Chrome's launch rely on.

Its own module because three layers need it: ``main`` and ``zygote`` set their own death
signal, and ``browser.chrome`` sets Chrome's between fork and exec.
"""

from __future__ import annotations

import ctypes
import signal

__all__ = ["become_subreaper", "set_death_signal", "set_name"]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36
_COMM_BYTES = 15  # the kernel's comm field holds 15 bytes and a NUL
# Resolved at import, in the parent: between fork and exec the child must not dlopen/dlsym
# (the loader lock may be held by another thread at fork time).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl
_PRCTL.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_PRCTL.restype = ctypes.c_int


def _prctl(option: int, arg: int, what: str) -> None:
    if _PRCTL(option, arg, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({what}) failed")


def set_death_signal(signum: signal.Signals = signal.SIGTERM) -> None:
    """Ask the kernel to send ``signum`` to this process when its parent (thread) dies."""
    _prctl(_PR_SET_PDEATHSIG, int(signum), "PR_SET_PDEATHSIG")


def set_name(name: str) -> None:
    """Set this process's name as ps, top and /proc/<pid>/comm show it (at most 15 bytes)."""
    buffer = ctypes.create_string_buffer(name.encode()[:_COMM_BYTES])
    _prctl(_PR_SET_NAME, ctypes.addressof(buffer), "PR_SET_NAME")


def become_subreaper() -> None:
    """Make orphaned descendants re-parent to this process instead of to init."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1, "PR_SET_CHILD_SUBREAPER")
