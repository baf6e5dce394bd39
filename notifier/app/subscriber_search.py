"""Subscribers as the console finds and shows them: a search by address, name, status, what
they follow and the lists they are on, a page at a time; and one subscriber's page (follows,
lists, consent, pause, bounces, every message sent them). A coordinator finds and opens only
the members of their own lists.

Order: newest first (by id), the cursor being the last id shown. The text is matched anywhere
in the address or the name, case-insensitively (and as a Telegram chat id when it is a
number): a scan of the subscribers in id order that stops as soon as a page is full. At
100,000 subscribers that is under the console's 200 ms even when nothing matches and every
row is read (`python -m bench.subscriber_pages` measures it), and it finds 'gmail' or
'ivanov', which a prefix index could not. The other filters are index lookups (follows by
country or case, list members) joined by id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier import limits
from notifier.app.outbox import OutboxEntry, last_bounce_reports, outbox_entries
from notifier.app.paging import (
    MAX_ID,
    Page,
    check_limit,
    check_search_text,
    cursor,
    page_of,
    parse_cursor,
)
from notifier.countries import resolve_country
from notifier.domain import SubscriberStatus
from notifier.domain.actors import Actor, Area
from notifier.errors import ForbiddenError, InputError, NotFoundError
from notifier.store.engine import Store
from notifier.store.models import (
    Case,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
    utcnow,
)
from notifier.store.subscribers import follow_specs

WHERE = "subscriber search"


@dataclass(frozen=True)
class SubscriberHit:
    """One subscriber in a search's results."""

    id: int
    email: str | None
    name: str
    status: str
    telegram_chat_id: int | None
    created_at: datetime
    #: A pause under way: nothing is sent before then.
    paused_until: datetime | None
    #: The lists they are on (a coordinator's own only), by slug.
    lists: list[str]


@dataclass(frozen=True)
class Membership:
    list: str
    list_name: str
    #: How they came to be on it: the list file, an import, or themselves.
    source: str
    joined_at: datetime


@dataclass(frozen=True)
class ConsentRecord:
    """When and how they last said yes (None: before notifier kept this, or not yet)."""

    consent: str | None
    confirmed_at: datetime | None
    #: Asked to come back (the sign-up form) and not confirmed yet.
    signup_requested_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class BounceInfo:
    """What bounces were reported for the address."""

    bounced: bool
    #: Days with a temporary failure counted so far, and the last of them.
    soft_bounces: int
    soft_bounce_last: datetime | None
    #: The last report of a message that bounced after it was sent, and which message.
    last_report: str | None
    last_report_message: int | None


@dataclass(frozen=True)
class SubscriberDetail:
    id: int
    email: str | None
    name: str
    status: str
    locale: str
    time_zone: str
    telegram_chat_id: int | None
    telegram_blocked_at: datetime | None
    #: A pause under way (None once it has ended).
    paused_until: datetime | None
    #: Each follow as 'country=KZ:weekly:email', 'case=anna-ivanova:instant:telegram'.
    follows: list[str]
    #: The lists they are on (a coordinator sees only their own).
    memberships: list[Membership]
    consent: ConsentRecord
    bounces: BounceInfo
    #: Every message for them, newest first, a page at a time (`messages_after`).
    messages: Page[OutboxEntry]
    created_at: datetime
    updated_at: datetime


def _require(by: Actor, area: Area) -> None:
    if not by.may(area):
        raise ForbiddenError(f"{by.label} may not see {area.value}")


async def _own_list_ids(session: AsyncSession, by: Actor) -> list[int]:
    return list(await session.scalars(select(MailingList.id).where(MailingList.slug.in_(by.lists))))


async def _list_id(session: AsyncSession, by: Actor, slug: str) -> int:
    if not by.may(Area.SUBSCRIBERS, mailing_list=slug):
        raise ForbiddenError(f"{by.label} does not coordinate the list {slug!r}")
    found = await session.scalar(select(MailingList.id).where(MailingList.slug == slug))
    if found is None:
        raise NotFoundError(f"no list {slug!r}")
    return found


def _members_of(list_ids: Sequence[int]) -> ColumnElement[bool]:
    return Subscriber.id.in_(
        select(ListMember.subscriber_id).where(ListMember.list_id.in_(list_ids))
    )


#: The shortest text a trigram index (PostgreSQL, migration 0024) finds by: '%ab%' holds no
#: trigram, so the index cannot serve it and PostgreSQL scans.
TRIGRAM = 3


def _name_like(
    pattern: str, *, postgres: bool, ascii_only: bool, indexed: bool
) -> ColumnElement[bool]:
    """The name matches `pattern` in any case. On PostgreSQL a text of TRIGRAM characters or
    more is found through the trigram index on the name (ILIKE as it is: an index is used
    only for the column's own collation), ~1-10 ms instead of a scan. A shorter one scans,
    and folding every letter's case costs: over 100,000 names ~105 ms; text in ASCII needs
    only ASCII letters folded, as ILIKE does under the "C" collation (~40 ms); other text
    (Cyrillic: 'Анна' finds 'АННА') is folded in full. SQLite's LIKE folds ASCII letters
    only, whatever the text."""
    if not postgres:
        return Subscriber.name.like(pattern, escape="/")
    if ascii_only and not indexed:
        return Subscriber.name.collate("C").ilike(pattern, escape="/")
    return Subscriber.name.ilike(pattern, escape="/")


def _text_matches(text: str, *, postgres: bool) -> ColumnElement[bool]:
    """Part of the address or the name, any case; or the Telegram chat id. The pattern is one
    bound parameter (built here, not in SQL per row), and the stored address is already lower
    case, so nothing is lowered per row: 100,000 rows scanned in ~80 ms on SQLite, against
    ~330 ms for `lower(email) LIKE '%' || lower(?) || '%'`. On PostgreSQL the address and
    the name each have a trigram index (migration 0024): a text of 3 characters or more is
    looked up in both, not scanned."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = f"%{escaped}%"
    matches: list[ColumnElement[bool]] = [
        Subscriber.email.like(pattern.lower(), escape="/"),
        _name_like(
            pattern, postgres=postgres, ascii_only=text.isascii(), indexed=len(text) >= TRIGRAM
        ),
    ]
    number = text.removeprefix("-")
    if number.isascii() and number.isdigit() and len(number) <= 18:
        matches.append(Subscriber.telegram_chat_id == int(text))
    return or_(*matches)


def _status(value: str | SubscriberStatus | None) -> SubscriberStatus | None:
    if value is None or value == "":
        return None
    try:
        return SubscriberStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in SubscriberStatus)
        raise InputError.single(
            WHERE, "status", f"{str(value)[:40]!r} is not a status ({known})"
        ) from None


async def search_subscribers(
    store: Store,
    by: Actor,
    *,
    text: str | None = None,
    status: str | SubscriberStatus | None = None,
    country: str | None = None,
    case: str | None = None,
    mailing_list: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> Page[SubscriberHit]:
    """Subscribers matching every filter given, newest first, `limit` at a time (`after`: the
    `next` of the page before). `text`: part of the address or the name, any case, or a
    Telegram chat id; `country`: following that country (a code or a name); `case`: following
    that case (its slug); `mailing_list`: on that list (its slug). A coordinator finds only
    members of their lists, and naming another list is ForbiddenError. InputError naming the
    field for bad input; NotFoundError for an unknown country, case or list."""
    _require(by, Area.SUBSCRIBERS)
    text = check_search_text(text, where=WHERE, field="text")
    country = check_search_text(country, where=WHERE, field="country", limit=limits.COUNTRY)
    case = check_search_text(case, where=WHERE, field="case", limit=limits.SLUG)
    mailing_list = check_search_text(
        mailing_list, where=WHERE, field="mailing_list", limit=limits.SLUG
    )
    wanted = _status(status)
    before = parse_cursor(after, where=WHERE)
    check_limit(limit, where=WHERE)

    query = select(Subscriber)
    conditions: list[ColumnElement[bool]] = []
    if before is not None:
        conditions.append(Subscriber.id < before)
    if text is not None:
        conditions.append(_text_matches(text, postgres=store.dialect == "postgresql"))
    if wanted is not None:
        conditions.append(Subscriber.status == wanted)
    if country is not None:
        code = resolve_country(country)
        conditions.append(
            Subscriber.id.in_(
                select(Subscription.subscriber_id).where(Subscription.country == code)
            )
        )
    async with store.read() as session:
        own = None if by.sees_every_list else await _own_list_ids(session, by)
        if case is not None:
            case_id = await session.scalar(select(Case.id).where(Case.slug == case))
            if case_id is None:
                raise NotFoundError(f"no case {case!r}")
            conditions.append(
                Subscriber.id.in_(
                    select(Subscription.subscriber_id).where(Subscription.case_id == case_id)
                )
            )
        if mailing_list is not None:
            conditions.append(_members_of([await _list_id(session, by, mailing_list)]))
        elif own is not None:
            conditions.append(_members_of(own))
        query = query.where(and_(*conditions)) if conditions else query
        found = list(await session.scalars(query.order_by(Subscriber.id.desc()).limit(limit + 1)))
        page = page_of(found, limit, lambda s: cursor(s.id))
        lists = await _lists_of(session, [s.id for s in page.items], own)
    now = utcnow()
    return Page(
        [
            SubscriberHit(
                id=s.id,
                email=s.email,
                name=s.name,
                status=s.status.value,
                telegram_chat_id=s.telegram_chat_id,
                created_at=s.created_at,
                paused_until=s.paused_until if s.paused_until and s.paused_until > now else None,
                lists=lists.get(s.id, []),
            )
            for s in page.items
        ],
        page.next,
    )


async def _lists_of(
    session: AsyncSession, ids: Sequence[int], own: Sequence[int] | None
) -> dict[int, list[str]]:
    if not ids:
        return {}
    query = (
        select(ListMember.subscriber_id, MailingList.slug)
        .join(MailingList, MailingList.id == ListMember.list_id)
        .where(ListMember.subscriber_id.in_(ids))
        .order_by(MailingList.slug)
    )
    if own is not None:
        query = query.where(ListMember.list_id.in_(own))
    lists: dict[int, list[str]] = {}
    for subscriber_id, slug in await session.execute(query):
        lists.setdefault(subscriber_id, []).append(slug)
    return lists


async def subscriber_page(
    store: Store,
    by: Actor,
    subscriber_id: int,
    *,
    messages_after: str | None = None,
    messages_limit: int = 50,
) -> SubscriberDetail:
    """Everything the console shows of one subscriber, with a page of the messages sent them
    (newest first; `messages_after`: the `next` of the page before). NotFoundError if there is
    no such subscriber; ForbiddenError for a coordinator unless they are on one of their
    lists (and a coordinator sees only those of their memberships)."""
    where = f"subscriber {subscriber_id}"
    _require(by, Area.SUBSCRIBERS)
    before = parse_cursor(messages_after, where=where, field="messages_after")
    check_limit(messages_limit, where=where, field="messages_limit")
    if not 0 < subscriber_id <= MAX_ID:
        raise NotFoundError(f"no subscriber {subscriber_id}")
    async with store.read() as session:
        subscriber = await session.scalar(
            select(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .options(
                selectinload(Subscriber.subscriptions).selectinload(Subscription.case),
                selectinload(Subscriber.memberships).selectinload(ListMember.mailing_list),
            )
        )
        if subscriber is None:
            raise NotFoundError(f"no subscriber {subscriber_id}")
        memberships = subscriber.memberships
        if not by.sees_every_list:
            memberships = [m for m in memberships if m.mailing_list.slug in by.lists]
            if not memberships:
                raise ForbiddenError(f"subscriber {subscriber_id} is on none of your lists")
        messages = await outbox_entries(
            session,
            [OutboxMessage.subscriber_id == subscriber_id],
            before=before,
            limit=messages_limit,
        )
        report = (await last_bounce_reports(session, [subscriber_id])).get(subscriber_id)
    now = utcnow()
    paused = subscriber.paused_until
    return SubscriberDetail(
        id=subscriber.id,
        email=subscriber.email,
        name=subscriber.name,
        status=subscriber.status.value,
        locale=subscriber.locale,
        time_zone=subscriber.time_zone,
        telegram_chat_id=subscriber.telegram_chat_id,
        telegram_blocked_at=subscriber.telegram_blocked_at,
        paused_until=paused if paused and paused > now else None,
        follows=[f.token() for f in follow_specs(subscriber)],
        memberships=sorted(
            (
                Membership(
                    list=m.mailing_list.slug,
                    list_name=m.mailing_list.name,
                    source=m.source.value,
                    joined_at=m.joined_at,
                )
                for m in memberships
            ),
            key=lambda m: m.list,
        ),
        consent=ConsentRecord(
            consent=subscriber.consent.value if subscriber.consent else None,
            confirmed_at=subscriber.confirmed_at,
            signup_requested_at=subscriber.signup_requested_at,
            created_at=subscriber.created_at,
        ),
        bounces=BounceInfo(
            bounced=subscriber.status is SubscriberStatus.BOUNCED,
            soft_bounces=subscriber.soft_bounces,
            soft_bounce_last=subscriber.soft_bounce_last,
            last_report=report[1] if report else None,
            last_report_message=report[0] if report else None,
        ),
        messages=messages,
        created_at=subscriber.created_at,
        updated_at=subscriber.updated_at,
    )
