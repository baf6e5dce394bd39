"""Read the bounce Maildir: each new message is a report from some mail system that a message
we sent could not be delivered (or an auto-reply, or junk). A bounce counts only when it is
addressed to one of our signed VERP addresses, which names the message and so its recipient;
flufl.bounce (Mailman's detectors) reads the many report formats. A permanent failure stops
email to that subscriber (status bounced). Temporary ones are counted, once a day; reported on
enough days in a row (SoftBounces) they count as a bounce too. Each message read is marked
seen (moved to cur/, flag S), so it is read once; reading it again changes nothing. Reports
read are deleted after a retention (`prune_reports`), like finished outbox rows."""

from __future__ import annotations

import contextlib
import email
import logging
import mailbox
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from email.utils import getaddresses
from pathlib import Path

from flufl.bounce import all_failures
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.bounces.verp import Verp
from notifier.domain import SubscriberStatus
from notifier.store.engine import Store
from notifier.store.models import OutboxMessage, Subscriber, utcnow
from notifier.store.outbox import note_bounce

log = logging.getLogger(__name__)

#: Where mail systems put the address a message was delivered to (the envelope recipient).
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
SEEN = "S"


@dataclass
class BounceReport:
    read: int = 0
    bounced: list[str] = field(default_factory=list)  # addresses now marked bounced
    temporary: int = 0  # delayed or soft failures: counted towards SoftBounces.limit
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


@dataclass(frozen=True)
class SoftBounces:
    """When temporary failures add up to a bounce: reported on `limit` different days, each
    within `reset` of the one before (0: never)."""

    limit: int = 5
    reset: timedelta = timedelta(days=14)


async def _mark_bounced(
    session: AsyncSession, subscriber_id: int, outbox_id: int, why: str
) -> None:
    await session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.status.in_([SubscriberStatus.ACTIVE, SubscriberStatus.PENDING]),
        )
        .values(status=SubscriberStatus.BOUNCED)
    )
    await note_bounce(session, outbox_id, why)


async def _recipient(session: AsyncSession, outbox_id: int) -> Subscriber | None:
    subscriber_id = await session.scalar(
        select(OutboxMessage.subscriber_id).where(OutboxMessage.id == outbox_id)
    )
    return None if subscriber_id is None else await session.get(Subscriber, subscriber_id)


async def _hard(store: Store, outbox_id: int, detail: str) -> str | None:
    """Stop email to the subscriber the message went to; their address, or None if unknown."""
    async with store.transaction() as session:
        subscriber = await _recipient(session, outbox_id)
        if subscriber is None:
            return None
        await _mark_bounced(session, subscriber.id, outbox_id, detail)
        return subscriber.email


async def _soft(
    store: Store, outbox_id: int, detail: str, policy: SoftBounces, now: datetime
) -> tuple[str | None, bool]:
    """Count a temporary failure (once a day at most); (address, whether it is now bounced)."""
    async with store.transaction() as session:
        subscriber = await _recipient(session, outbox_id)
        if subscriber is None:
            return None, False
        last = subscriber.soft_bounce_last
        if last is None or now - last > policy.reset:
            subscriber.soft_bounces, subscriber.soft_bounce_last = 1, now
        elif now - last >= timedelta(days=1):
            subscriber.soft_bounces, subscriber.soft_bounce_last = subscriber.soft_bounces + 1, now
        bounced = 0 < policy.limit <= subscriber.soft_bounces
        if bounced:
            why = f"temporary failures on {subscriber.soft_bounces} days, the last: {detail}"
            await _mark_bounced(session, subscriber.id, outbox_id, why)
        return subscriber.email, bounced


async def process_bounces(
    store: Store,
    maildir: Path,
    verp: Verp,
    *,
    soft: SoftBounces | None = None,
    now: datetime | None = None,
) -> BounceReport:
    """Read every message not yet seen in the bounce Maildir once."""
    policy = soft or SoftBounces()
    when = now or utcnow()
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
                address = await _hard(store, outbox_id, detail)
                if address is None:
                    report.unrecognised += 1
                else:
                    report.bounced.append(address)
                    log.info("bounces: %s failed for good (%s)", address, detail)
            elif temporary:
                report.temporary += 1
                detail = ", ".join(sorted(a.decode(errors="replace") for a in temporary))
                address, bounced = await _soft(store, outbox_id, detail, policy, when)
                if bounced and address is not None:
                    report.bounced.append(address)
                    log.info("bounces: %s kept failing (%s)", address, detail)
            else:
                report.not_bounces += 1
        stored.set_subdir("cur")
        stored.add_flag(SEEN)
        # Another reader may have moved it first: it acted the same way.
        with contextlib.suppress(KeyError, OSError):
            box[key] = stored
    return report


def prune_reports(maildir: Path, before: datetime) -> int:
    """Delete the reports already read (in cur/, seen) that arrived before `before`; unread
    ones are left, however old. How many were deleted."""
    cutoff = before.timestamp()
    deleted = 0
    cur = maildir / "cur"
    if not cur.is_dir():
        return 0
    for entry in os.scandir(cur):
        _, _, info = entry.name.partition(":2,")
        if entry.name.startswith(".") or SEEN not in info:
            continue
        with contextlib.suppress(FileNotFoundError):  # another reader deleted it first
            # Maildir keeps a message's arrival time as its file's mtime.
            if entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                deleted += 1
    return deleted
