"""The outbox as an administrator sees it: the latest messages, a filtered page of them (the
console's outbox), the addresses that bounced, and sending some again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import ColumnElement, Integer, and_, literal, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.app.access import require
from notifier.app.paging import (
    Page,
    check_aware,
    check_limit,
    cursor,
    dated_cursor,
    page_of,
    parse_cursor,
    parse_dated_cursor,
)
from notifier.domain import Channel, MessageKind, OutboxStatus, SubscriberStatus
from notifier.domain.actors import Actor, Area
from notifier.domain.vocabulary import CLAIMABLE
from notifier.errors import ForbiddenError, InputError
from notifier.store import audit
from notifier.store.engine import Store
from notifier.store.models import OutboxMessage, Subscriber, UTCDateTime, status_in, utcnow
from notifier.store.outbox import BOUNCED_AFTER_SENT, retry

E = TypeVar("E", bound=StrEnum)
#: The statuses each of the outbox's partial indexes holds (ix_outbox_due, ix_outbox_in_flight).
PARTIAL = (CLAIMABLE, (OutboxStatus.SENDING,))


@dataclass(frozen=True)
class OutboxEntry:
    """One message: where it goes, how it stands, and what went wrong last."""

    id: int
    channel: str
    #: Where the message goes as the outbox keys it (an address, a chat id), and the email
    #: and chat id of the subscriber it is for (None once they are erased).
    recipient: str
    email: str | None
    telegram_chat_id: int | None
    key: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    #: An alert, a digest or a confirmation request.
    kind: str
    created_at: datetime
    subscriber_id: int | None
    update_id: int | None
    list_id: int | None


def _entries(rows: Sequence[tuple[OutboxMessage, str | None, int | None]]) -> list[OutboxEntry]:
    return [
        OutboxEntry(
            id=m.id,
            channel=m.channel.value,
            recipient=m.recipient,
            email=email,
            telegram_chat_id=chat,
            key=m.key,
            status=m.status.value,
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at,
            sent_at=m.sent_at,
            last_error=m.last_error,
            kind=m.kind.value,
            created_at=m.created_at,
            subscriber_id=m.subscriber_id,
            update_id=m.update_id,
            list_id=m.list_id,
        )
        for m, email, chat in rows
    ]


async def outbox_entries(
    session: AsyncSession,
    conditions: Sequence[ColumnElement[bool]],
    *,
    before: int | None = None,
    before_dated: tuple[datetime, int] | None = None,
    by_date: bool = False,
    limit: int,
    few: bool = False,
) -> Page[OutboxEntry]:
    """A page of the messages meeting every condition, newest first: by id (`before`: ids
    below it), or with `by_date` by when they were made (`before_dated`: a `dated_cursor`)."""
    query = (
        select(OutboxMessage, Subscriber.email, Subscriber.telegram_chat_id)
        .outerjoin(Subscriber, Subscriber.id == OutboxMessage.subscriber_id)
        .limit(limit + 1)
    )
    wanted = list(conditions)
    if by_date:
        if few and session.get_bind().dialect.name == "sqlite":
            # `few`: the conditions name a partial index's few rows. SQLite would rather walk
            # ix_outbox_created for its order (all of it, when nothing matches); "+column" is no
            # index's column, so it reads the partial index and sorts what it found.
            query = query.order_by(text("+outbox.created_at DESC"), text("+outbox.id DESC"))
        else:
            query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        if before_dated is not None:
            at, row_id = before_dated
            wanted.append(
                tuple_(OutboxMessage.created_at, OutboxMessage.id)
                < tuple_(literal(at, UTCDateTime()), literal(row_id, Integer()))
            )
    else:
        query = query.order_by(OutboxMessage.id.desc())
        if before is not None:
            wanted.append(OutboxMessage.id < before)
    if wanted:
        query = query.where(and_(*wanted))
    rows = [(m, email, chat) for m, email, chat in (await session.execute(query)).all()]
    entries = _entries(rows)
    if by_date:
        return page_of(entries, limit, lambda e: dated_cursor(e.created_at, e.id))
    return page_of(entries, limit, lambda e: cursor(e.id))


async def outbox_messages(
    store: Store, *, status: OutboxStatus | None = None, limit: int = 50
) -> list[OutboxEntry]:
    """The latest `limit` messages (of one status, or all), newest first."""
    async with store.read() as session:
        conditions = [] if status is None else [OutboxMessage.status == status]
        page = await outbox_entries(session, conditions, before=None, limit=limit)
    return page.items


def _choice(kind: type[E], value: str | E | None, *, where: str, field: str) -> E | None:
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise InputError.single(where, field, f"{str(value)[:40]!r}: one of {known}") from None


def _require(by: Actor, area: Area) -> None:
    if not by.may(area):
        raise ForbiddenError(f"{by.label} may not see {area.value}")


async def outbox_page(
    store: Store,
    by: Actor,
    *,
    status: str | OutboxStatus | None = None,
    channel: str | Channel | None = None,
    kind: str | MessageKind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 50,
) -> Page[OutboxEntry]:
    """The console's outbox: messages of that status, channel and kind, made from `since` up to
    (not including) `until`, newest first by when they were made (ix_outbox_created holds
    that order, so a date range is read in order and stops when the page is full), `limit`
    at a time (`after`: the `next` of the page before), each with its last error. Owners and
    editors (Area.OUTBOX); ForbiddenError for others, InputError naming the field."""
    where = "outbox"
    _require(by, Area.OUTBOX)
    conditions: list[ColumnElement[bool]] = []
    wanted_status = _choice(OutboxStatus, status, where=where, field="status")
    wanted_channel = _choice(Channel, channel, where=where, field="channel")
    wanted_kind = _choice(MessageKind, kind, where=where, field="kind")
    since = check_aware(since, where=where, field="since")
    until = check_aware(until, where=where, field="until")
    if since is not None and until is not None and since >= until:
        raise InputError.single(where, "until", "must be later than since")
    before = parse_dated_cursor(after, where=where)
    check_limit(limit, where=where)
    few = False
    if wanted_status is not None:
        conditions.append(OutboxMessage.status == wanted_status)
        # Waiting and in-flight rows are a few among millions, each set in a partial index:
        # named as its predicate (literal values), so the index can serve. Without it, a filter
        # that matches nothing (digests retrying) read all of ix_outbox_created: 1 s at 1M rows.
        partial = next((s for s in PARTIAL if wanted_status in s), None)
        if partial is not None:
            conditions.append(status_in(*partial))
            few = True
    if wanted_channel is not None:
        conditions.append(OutboxMessage.channel == wanted_channel)
    if wanted_kind is not None:
        conditions.append(OutboxMessage.kind == wanted_kind)
    if since is not None:
        conditions.append(OutboxMessage.created_at >= since)
    if until is not None:
        conditions.append(OutboxMessage.created_at < until)
    async with store.read() as session:
        return await outbox_entries(
            session, conditions, before_dated=before, by_date=True, limit=limit, few=few
        )


@dataclass(frozen=True)
class BounceEntry:
    """An address with bounces reported: bounced for good, or temporary failures counted."""

    subscriber_id: int
    email: str | None
    name: str
    #: `bounced`, or the status it keeps while temporary failures are counted.
    status: str
    soft_bounces: int
    soft_bounce_last: datetime | None
    #: The last report of a message that bounced after it was sent, and which message.
    last_report: str | None
    last_report_message: int | None
    last_report_sent_at: datetime | None


async def last_bounce_reports(
    session: AsyncSession, subscriber_ids: Sequence[int]
) -> dict[int, tuple[int, str, datetime | None]]:
    """Per subscriber, the last message of theirs that bounced after it was sent: (its id, the
    report, when it was sent). One query: a range of ix_outbox_subscriber per subscriber."""
    if not subscriber_ids:
        return {}
    rows = await session.execute(
        select(
            OutboxMessage.subscriber_id,
            OutboxMessage.id,
            OutboxMessage.last_error,
            OutboxMessage.sent_at,
        )
        .where(
            OutboxMessage.subscriber_id.in_(subscriber_ids),
            OutboxMessage.last_error.startswith(BOUNCED_AFTER_SENT, autoescape=True),
        )
        .order_by(OutboxMessage.id)
    )
    # In id order: each subscriber's last one is the one kept.
    return {who: (id_, error or "", sent) for who, id_, error, sent in rows if who is not None}


#: `bounces_page(which=...)`: bounced for good, temporary failures being counted, or both.
BOUNCE_KINDS = ("bounced", "soft")


async def bounces_page(
    store: Store,
    by: Actor,
    *,
    which: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> Page[BounceEntry]:
    """Addresses with bounces reported, newest subscriber first, `limit` at a time: those
    bounced (which="bounced"), those with temporary failures counted but not bounced yet
    ("soft"), or both (None); each with the last report received. Owners and editors
    (Area.BOUNCES)."""
    where = "bounces"
    _require(by, Area.BOUNCES)
    if which not in (None, "", *BOUNCE_KINDS):
        raise InputError.single(
            where, "which", f"{str(which)[:40]!r}: one of {', '.join(BOUNCE_KINDS)}"
        )
    before = parse_cursor(after, where=where)
    check_limit(limit, where=where)
    bounced = Subscriber.status == SubscriberStatus.BOUNCED
    soft = and_(Subscriber.soft_bounces > 0, Subscriber.status != SubscriberStatus.BOUNCED)
    chosen = {"bounced": bounced, "soft": soft}.get(which or "", or_(bounced, soft))
    query = select(Subscriber).where(chosen).order_by(Subscriber.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Subscriber.id < before)
    async with store.read() as session:
        found = list(await session.scalars(query))
        page = page_of(found, limit, lambda s: cursor(s.id))
        reports = await last_bounce_reports(session, [s.id for s in page.items])
    return Page(
        [
            BounceEntry(
                subscriber_id=s.id,
                email=s.email,
                name=s.name,
                status=s.status.value,
                soft_bounces=s.soft_bounces,
                soft_bounce_last=s.soft_bounce_last,
                last_report=reports[s.id][1] if s.id in reports else None,
                last_report_message=reports[s.id][0] if s.id in reports else None,
                last_report_sent_at=reports[s.id][2] if s.id in reports else None,
            )
            for s in page.items
        ],
        page.next,
    )


async def retry_messages(
    store: Store, *, by: Actor, ids: Sequence[int] = (), failed: bool = False
) -> int:
    """Send these messages (or every failed one) again; how many were queued. Sent messages are
    never sent again; someone who unsubscribed or bounced still gets nothing."""
    require(by, Area.OUTBOX, write=True)
    async with store.transaction() as session:
        queued = await retry(session, ids=ids, failed=failed, now=utcnow())
        target = " ".join(str(i) for i in ids)
        if failed:
            target = f"failed {target}".strip()
        audit.record(session, by, "outbox.retry", target, after={"queued": queued})
        return queued
