"""wasim: a local WhatsApp Web simulator for zapvisor's tests and offline demos.

It replaces WhatsApp's servers and web page, nothing else: the page at ``/`` offers the module
surface whatsapp-web.js v1.34 uses on the real page (``window.Debug.VERSION``,
``window.require('WAWebSocketModel')`` and friends; see static/modules.js), and the server
offers out-of-band test controls under ``/_sim/`` to play the phone (scan, incoming, logout...).

Two WhatsApp Web builds are modelled (``build``): "2024" (the default) and "2026" (gradual
module registration, MsgKey without ``_serialized``, LIDs, expiring pairing codes; see
static/build2026.js and static/lid.js).

    python -m tests.wasim --host 127.0.0.1 --port 8090 [--build 2026]

    from tests.wasim import run_simulator
    with run_simulator(ref_ttl_s=1) as sim:            # or run_simulator(build="2026", ...)
        sim.url, sim.clients(), sim.scan(qr=..., phone=...)
"""

from .config import BUILD_DEFAULTS, BUILDS, SimConfig
from .hub import MODES, WA_STATES
from .runner import RunningSimulator, SimControl, SimError, Simulator, run_simulator

__all__ = [
    "BUILDS",
    "BUILD_DEFAULTS",
    "MODES",
    "WA_STATES",
    "RunningSimulator",
    "SimConfig",
    "SimControl",
    "SimError",
    "Simulator",
    "run_simulator",
]
