"""What "WhatsApp's servers" know about users: which numbers are on WhatsApp, their LIDs, and
which groups address their members by LID.

Facts modelled (research/whatsapp-anchors.md §10):

* Every WhatsApp user has a LID (``<digits>@lid``) besides the phone-number id (``@c.us``).
  A page learns the LID of a number only from the server: ``WAWebQueryExistsJob.queryWidExists``
  (whatsapp-web.js ``src/util/Injected/Utils.js`` ``enforceLidAndPnRetrieval``: getCurrentLid,
  else queryWidExists, then getCurrentLid again; a result without ``wid`` means the number is
  not on WhatsApp), or with a message from that user.
* Groups are LID-addressed (``groupMetadata.isLidAddressingMode``; wa-js
  ``src/chat/functions/prepareRawMessage.ts``: "AFAIK, groups are only LID"), except those the
  test declares in ``SimConfig.pn_groups``.

The LIDs here are stable fakes derived from the phone number, so tests can compute them
(``GET /_sim/lid?phone=``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hub import Hub

__all__ = ["answer", "group_is_lid", "known_contacts", "lid_for", "on_whatsapp", "phone_for"]


def _digits(value: str) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


def _fake_lid(phone: str) -> str:
    """A stable fake LID user for a phone number (the same one the 2024 build used)."""
    return str(int(hashlib.sha256(phone.encode()).hexdigest()[:12], 16))


def lid_for(hub: Hub, phone: str) -> str:
    """The LID user (digits, no server) WhatsApp gives `phone`; remembered for reverse look-ups."""
    lid = _fake_lid(_digits(phone))
    hub.lids.setdefault(lid, _digits(phone))
    return lid


def phone_for(hub: Hub, lid: str) -> str | None:
    """The phone number behind a LID user, if the server handed that LID out (or was told)."""
    return hub.lids.get(lid.split("@", 1)[0])


def bind(hub: Hub, lid: str, phone: str) -> None:
    """Record that LID user `lid` belongs to `phone` (a test named the pair explicitly)."""
    hub.lids[lid.split("@", 1)[0]] = _digits(phone)


def on_whatsapp(hub: Hub, phone: str) -> bool:
    """Whether a phone number has a WhatsApp account (any 6-15 digit number not declared
    in ``not_on_whatsapp``)."""
    digits = _digits(phone)
    absent = {_digits(p) for p in hub.config.not_on_whatsapp}
    return 6 <= len(digits) <= 15 and digits not in absent


def group_is_lid(hub: Hub, group_id: str) -> bool:
    """Whether a group addresses its members by LID (``isLidAddressingMode``)."""
    pn_groups = hub.config.pn_groups
    return group_id not in pn_groups and group_id.split("@", 1)[0] not in pn_groups


def known_contacts(hub: Hub) -> list[dict[str, str]]:
    """The contacts whose LID a freshly linked page already knows (``known_contacts``)."""
    return [{"phone": _digits(p), "lid": lid_for(hub, p)}
            for p in hub.config.known_contacts if on_whatsapp(hub, p)]


def answer(hub: Hub, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Answer a page's server query: ``query_exists`` ({id}) or ``group_info`` ({id})."""
    wid = str(data.get("id") or "")
    user, _, server = wid.partition("@")
    if kind == "group_info":
        return {"id": wid, "is_lid": group_is_lid(hub, wid)}
    if server == "lid":
        phone = phone_for(hub, user)
        if phone is None or not on_whatsapp(hub, phone):
            return {"exists": False}
        return {"exists": True, "phone": phone, "lid": user}
    if server in ("c.us", "s.whatsapp.net") and on_whatsapp(hub, user):
        return {"exists": True, "phone": _digits(user), "lid": lid_for(hub, user)}
    return {"exists": False}
