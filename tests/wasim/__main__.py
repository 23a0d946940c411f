"""Run the simulator standalone: ``python -m tests.wasim --host 127.0.0.1 --port 8090``."""

from __future__ import annotations

import argparse
import dataclasses
import logging

from aiohttp import web

from .app import make_app
from .hub import SimConfig


def main(argv: list[str] | None = None) -> None:
    """Parse options and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.wasim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    for f in dataclasses.fields(SimConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name,
                            type=type(f.default), default=f.default,
                            help=f"(default {f.default})")
    args = parser.parse_args(argv)
    config = SimConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(SimConfig)})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"wasim: WhatsApp Web simulator on http://{args.host}:{args.port}/ "
          f"(controls under /_sim/)", flush=True)
    web.run_app(make_app(config), host=args.host, port=args.port, print=None,
                shutdown_timeout=2.0)


if __name__ == "__main__":
    main()
