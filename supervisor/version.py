"""zapvisor's version, as installed (the package's metadata)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["version"]


def version() -> str:
    """The installed version; "0" when run from a checkout that was never installed."""
    try:
        return metadata.version("zapvisor")
    except metadata.PackageNotFoundError:
        return "0"
