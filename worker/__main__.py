"""``python -m worker --fd N --session ID``: one session's worker (started by the supervisor)."""

from __future__ import annotations

import argparse
import sys

from worker import main


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="inherited fd of the control socket")
    parser.add_argument("--session", required=True, help="session id (for logs)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse(sys.argv[1:])
    sys.exit(main.run(args.fd, args.session))
