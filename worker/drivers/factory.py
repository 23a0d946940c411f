"""Which driver a session runs: chosen once per page from its boot spec.

Lives beside the interface, not inside a driver, so that no driver module imports another.
"""

from __future__ import annotations

from worker import protocol
from worker.drivers.base import Driver
from worker.drivers.basic import BasicDriver
from worker.drivers.whatsapp import WhatsAppDriver


def make_driver(spec: protocol.BootSpec) -> Driver:
    """The driver for a session booted with ``spec``: the WhatsApp driver when its
    ``whatsapp.driver`` says so, else the basic one."""
    if spec.get("whatsapp", {}).get("driver") == "whatsapp":
        return WhatsAppDriver(spec)
    return BasicDriver(spec["url"], spec["chrome_user_agent"], spec["page_timeout_s"])
