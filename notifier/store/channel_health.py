"""What the channels learnt about their servers, read back before it matters: an address the
configured SMTP server is known not to take gets a warning when it is added, not a failed
message days later."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.config import Settings
from notifier.mail_address import SERVER_NOTE, SMTPUTF8_NOTE, needs_smtputf8
from notifier.smtp_url import parse_smtp_url
from notifier.store.models import ChannelHealth

#: The name the SMTP channel saves its health under.
SMTP_CHANNEL = "smtp"


async def smtp_offers_smtputf8(session: AsyncSession, server: str) -> bool | None:
    """Whether `server` (host:port) offered SMTPUTF8 when notifier last connected to it; None
    when nothing is known of that server (never connected, or another one since)."""
    extra = await session.scalar(
        select(ChannelHealth.extra).where(ChannelHealth.name == SMTP_CHANNEL)
    )
    if not extra or extra.get(SERVER_NOTE) != server:
        return None
    return {"yes": True, "no": False}.get(str(extra.get(SMTPUTF8_NOTE)))


async def smtputf8_warnings(
    session: AsyncSession, settings: Settings, addresses: Iterable[str]
) -> list[str]:
    """A warning for each address that needs SMTPUTF8 when the configured SMTP server is known
    not to offer it (mail to the Maildir, or to a server not seen yet, warns of nothing)."""
    needing = sorted({a for a in addresses if needs_smtputf8(a)})
    if not needing or settings.smtp_url is None:
        return []
    server = parse_smtp_url(settings.smtp_url.get_secret_value())
    if await smtp_offers_smtputf8(session, server.key) is not False:
        return []
    return [
        f"{address} has non-ASCII characters before the @: it needs SMTPUTF8, which "
        f"{server.host} did not offer when notifier last connected, so mail to it will fail"
        for address in needing
    ]
