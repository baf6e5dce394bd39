"""Addresses as the wire needs them. The store keeps an address as people read it
(`anna@bücher.de`, `мария@пример.рф`); SMTP and headers take the domain as A-labels (IDNA 2008
with UTS #46 mapping, as email-validator checks it: `anna@xn--bcher-kva.de`). A local part
that is not ASCII has no ASCII form: it needs a server that offers SMTPUTF8 (RFC 6531), and
the message's headers then carry it as UTF-8 (RFC 6532)."""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache

import idna

#: What the SMTP channel notes of its server (in `ChannelState.extra`, saved with the channel's
#: health): which server (`host:port`) and whether it offered SMTPUTF8 ("yes" / "no").
SERVER_NOTE = "server"
SMTPUTF8_NOTE = "smtputf8"
#: A host name in EHLO: letters, digits, hyphens and dots, or an address literal `[…]`.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?)+|\[[0-9A-Fa-f:.]+\]")


@lru_cache(maxsize=4096)
def ascii_domain(domain: str) -> str:
    """The domain as A-labels; ASCII domains (and `[1.2.3.4]` literals) as they are.
    ValueError names the domain when it has no IDNA form."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"domain {domain!r} has no IDNA form: {exc}") from None


def wire_address(address: str) -> str:
    """`local@domain` with the domain as A-labels; the local part as it is."""
    local, at, domain = address.rpartition("@")
    return f"{local}@{ascii_domain(domain)}" if at else address


def needs_smtputf8(address: str) -> bool:
    """Whether the address can only travel with SMTPUTF8 (its local part is not ASCII)."""
    return not address.rpartition("@")[0].isascii()


def stored_address(value: str) -> str:
    """The form the store keeps an address in (lower case, the domain as people read it), from
    any form it is typed in: `Anna@XN--BCHER-KVA.DE` finds `anna@bücher.de`."""
    local, at, domain = value.strip().lower().rpartition("@")
    if not at:
        return value.strip().lower()
    # Not a valid A-label: kept as typed, it matches nothing stored, as it should.
    with contextlib.suppress(idna.IDNAError):
        domain = idna.decode(domain) if "xn--" in domain else domain
    return f"{local}@{domain}"


def check_host_name(value: str) -> str:
    """A name for EHLO: a host name (an IDN becomes A-labels) or an address literal."""
    name = ascii_domain(value.strip())
    if not _HOST.fullmatch(name) or len(name) > 253:
        raise ValueError(f"{value!r} is not a host name, e.g. mail.example.org")
    return name
