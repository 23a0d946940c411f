"""Run the simulator standalone: ``python -m tests.wasim --host 127.0.0.1 --port 8090``.

Every SimConfig field is an option (``--build 2026``, ``--late-modules-ms 500``,
``--not-on-whatsapp 5511000000000,5511000000001``; list fields are comma-separated).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

from aiohttp import web

from .app import make_app
from .config import BUILD_DEFAULTS, BUILDS, FIELD_TYPES, SimConfig


def parse_args(argv: list[str] | None = None) -> tuple[str, int, SimConfig]:
    """The host, port and SimConfig the command line asks for."""
    parser = argparse.ArgumentParser(prog="python -m tests.wasim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    defaults = SimConfig()
    for f in dataclasses.fields(SimConfig):
        default = getattr(defaults, f.name)
        if default is None:
            shown = ", ".join(f"{b}: {BUILD_DEFAULTS[b][f.name]}" for b in BUILDS)
            help_text = f"(default per build: {shown})"
        else:
            help_text = f"(default {default})"
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=FIELD_TYPES[f.name],
                            default=default, help=help_text,
                            choices=BUILDS if f.name == "build" else None)
    args = parser.parse_args(argv)
    config = SimConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(SimConfig)})
    return args.host, args.port, config


def main(argv: list[str] | None = None) -> None:
    """Parse options and serve until interrupted."""
    host, port, config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"wasim: WhatsApp Web simulator ({config.build} build, "
          f"{config.resolved()['version']}) on http://{host}:{port}/ "
          f"(controls under /_sim/)", flush=True)
    web.run_app(make_app(config), host=host, port=port, print=None, shutdown_timeout=2.0)


if __name__ == "__main__":
    main()
