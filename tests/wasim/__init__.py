"""wasim: a local WhatsApp Web simulator for zapvisor's tests and offline demos.

It replaces WhatsApp's servers and web page, nothing else: the page at ``/`` offers the module
surface whatsapp-web.js v1.34 uses on the real page (``window.Debug.VERSION``,
``window.require('WAWebSocketModel')`` and friends; see static/modules.js), and the server
offers out-of-band test controls under ``/_sim/`` to play the phone (scan, incoming, logout...).

    python -m tests.wasim --host 127.0.0.1 --port 8090

    from tests.wasim import run_simulator
    with run_simulator(ref_ttl_s=1) as sim:
        sim.url, sim.clients(), sim.scan(qr=..., phone=...)
"""

from .hub import MODES, WA_STATES, SimConfig
from .runner import RunningSimulator, SimControl, SimError, Simulator, run_simulator

__all__ = [
    "MODES",
    "WA_STATES",
    "RunningSimulator",
    "SimConfig",
    "SimControl",
    "SimError",
    "Simulator",
    "run_simulator",
]
