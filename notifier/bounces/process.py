"""Read the bounce Maildir: each new message is a report from some mail system that a message
we sent could not be delivered (or an auto-reply, or junk). A bounce counts only when it is
addressed to one of our signed VERP addresses, which names the message and so its recipient;
flufl.bounce (Mailman's detectors) reads the many report formats. A permanent failure stops
email to that subscriber (status bounced); a temporary one is only counted. Each message read
is marked seen (moved to cur/, flag S), so it is read once; reading it again changes nothing."""

from __future__ import annotations

import contextlib
import email
import logging
import mailbox
import os
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from pathlib import Path

from flufl.bounce import all_failures
from sqlalchemy import select, update

from notifier.bounces.verp import Verp
from notifier.store.engine import Store
from notifier.store.models import OutboxMessage, Subscriber, SubscriberStatus

log = logging.getLogger(__name__)

#: Where mail systems put the address a message was delivered to (the envelope recipient).
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
SEEN = "S"


@dataclass
class BounceReport:
    read: int = 0
    bounced: list[str] = field(default_factory=list)  # addresses now marked bounced
    temporary: int = 0  # delayed or soft failures: counted, nothing done
    not_bounces: int = 0  # to our address, but no failure in it (an auto-reply, say)
    unrecognised: int = 0  # not to a signed address of ours: ignored
    problems: list[str] = field(default_factory=list)


def _outbox_id(message: Message, verp: Verp) -> int | None:
    values = [str(v) for h in RECIPIENT_HEADERS for v in (message.get_all(h) or [])]
    for _, address in getaddresses(values):
        found = verp.outbox_id(address)
        if found is not None:
            return found
    return None


async def _bounce(store: Store, outbox_id: int, detail: str) -> str | None:
    """Stop email to the subscriber the message went to; their address, or None if unknown."""
    async with store.transaction() as session:
        subscriber_id = await session.scalar(
            select(OutboxMessage.subscriber_id).where(OutboxMessage.id == outbox_id)
        )
        if subscriber_id is None:
            return None
        address = await session.scalar(
            select(Subscriber.email).where(Subscriber.id == subscriber_id)
        )
        await session.execute(
            update(Subscriber)
            .where(
                Subscriber.id == subscriber_id,
                Subscriber.status.in_([SubscriberStatus.ACTIVE, SubscriberStatus.PENDING]),
            )
            .values(status=SubscriberStatus.BOUNCED)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(last_error=f"bounced after it was sent: {detail}"[:1000])
        )
        return address


async def process_bounces(store: Store, maildir: Path, verp: Verp) -> BounceReport:
    """Read every message not yet seen in the bounce Maildir once."""
    report = BounceReport()
    box = mailbox.Maildir(str(maildir), factory=None, create=True)
    # Only new/ holds unread mail: what was read sits in cur/ and is not opened again.
    for key in sorted(name.split(":")[0] for name in os.listdir(maildir / "new")):
        if key.startswith("."):
            continue
        try:
            stored = box.get_message(key)
        except (KeyError, OSError):  # taken away meanwhile (another reader, an admin)
            continue
        if SEEN in stored.get_flags():
            continue
        report.read += 1
        message = email.message_from_bytes(stored.as_bytes())
        outbox_id = _outbox_id(message, verp)
        if outbox_id is None:
            report.unrecognised += 1
        else:
            try:
                temporary, permanent = all_failures(message)
            except Exception as exc:  # a detector choking on a malformed report
                temporary, permanent = frozenset(), frozenset()
                report.problems.append(f"{key}: unreadable report ({type(exc).__name__})")
            if permanent:
                detail = ", ".join(sorted(a.decode(errors="replace") for a in permanent))
                address = await _bounce(store, outbox_id, detail)
                if address is None:
                    report.unrecognised += 1
                else:
                    report.bounced.append(address)
                    log.info("bounces: %s failed for good (%s)", address, detail)
            elif temporary:
                report.temporary += 1
            else:
                report.not_bounces += 1
        stored.set_subdir("cur")
        stored.add_flag(SEEN)
        # Another reader may have moved it first: it acted the same way.
        with contextlib.suppress(KeyError, OSError):
            box[key] = stored
    return report
