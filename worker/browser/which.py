"""``python -m worker.browser.which EXECUTABLE true|false``: the Chrome binary a session would
run for ``[chrome] executable`` (``""``: search PATH) and ``headless``, found exactly as a
worker finds it (``executable``), as one JSON line: ``{"path"}``, or ``{"error"}`` and exit 1.

``zapvisor doctor`` runs this: the supervisor never imports the worker's browser layer.
"""

from __future__ import annotations

import json
import sys

from worker.browser.executable import find_executable
from worker.errors import ChromeNotFound


def main(argv: list[str]) -> int:
    """Print where Chrome is (or why none is usable); 0 if found, 1 if not, 2 on bad use."""
    if len(argv) != 2 or argv[1] not in ("true", "false"):
        print(json.dumps({"error": "usage: python -m worker.browser.which EXECUTABLE true|false"}))
        return 2
    try:
        path = find_executable(argv[0], headless=argv[1] == "true")
    except ChromeNotFound as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps({"path": str(path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
