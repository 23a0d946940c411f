"""Which driver a session runs: chosen once per page from its boot spec.

Lives beside the interface, not inside a driver, so that no driver module imports another.
"""

from __future__ import annotations

from worker import protocol
from worker.drivers.base import Driver
from worker.drivers.basic import BasicDriver
from worker.drivers.whatsapp import WhatsAppDriver
from worker.spec import WhatsAppOptions


def make_driver(spec: protocol.BootSpec, whatsapp: WhatsAppOptions | None) -> Driver:
    """The driver for a session booted with ``spec`` (``whatsapp``: its parsed options, None if
    it had none): the WhatsApp driver when they say so, else the basic one."""
    if whatsapp is not None and whatsapp.driver == "whatsapp":
        return WhatsAppDriver(spec, whatsapp)
    return BasicDriver(spec["url"], spec["chrome_user_agent"], spec["page_timeout_s"])
