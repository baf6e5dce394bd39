"""The console's dashboard, as data: how notifier is doing now (store, channels, the Telegram
lease, blocked chats), what the outbox holds, the next list digests, and the last 30 days.

Every figure is cheap at any size (measured by `python -m bench.console`: 100,000 subscribers
and 1,000,000 outbox rows): the outbox's waiting and in-flight rows are counted through its
partial indexes (they hold only those few rows), the days come from `daily_counts` (a few
rows a day, kept by the database's triggers, see notifier.store.models.DailyCount), members
and departures of lists by index range scans, blocked chats through a partial index. Nothing
reads every subscriber or every message.

Days are UTC days. No open or click tracking is kept, on purpose: there is none to show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.config import Settings
from notifier.digests import list_schedule
from notifier.domain import Cadence, Channel, ChatStatus, OutboxStatus
from notifier.domain.actors import Actor, Area
from notifier.domain.schedule import next_due
from notifier.domain.vocabulary import CLAIMABLE
from notifier.errors import NotFoundError, StoreUnavailable
from notifier.store.channel_health import SMTP_CHANNEL
from notifier.store.engine import Store
from notifier.store.models import (
    BOUNCED_METRIC,
    FAILED_METRIC,
    JOINED_METRIC,
    LEFT_METRIC,
    SENT_METRIC,
    ChannelHealth,
    ChannelLease,
    DailyCount,
    ListChat,
    ListDeparture,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    status_in,
    utcnow,
)

#: How many days the dashboard looks back, today included.
DAYS = 30
#: How many of the next list digests it shows.
NEXT_DIGESTS = 10
CHANNELS = tuple(c.value for c in Channel)


@dataclass(frozen=True)
class ChannelState:
    """What a channel last said about itself (`channel_health`): paused after failed
    connections until `paused_until`, and why."""

    name: str
    paused: bool
    paused_until: datetime | None
    note: str
    updated_at: datetime


@dataclass(frozen=True)
class Lease:
    """Who may send on a one-sender-at-a-time channel (Telegram's bot): a worker, until when."""

    name: str
    holder: str
    until: datetime


@dataclass(frozen=True)
class Health:
    #: "ok", or "unreachable: <kind of error>" (then the rest of the dashboard is empty).
    store: str
    #: Which email channel is configured: "smtp", "maildir" (no SMTP server set).
    email: str
    #: The SMTP channel's state, None when it never said anything (not used, or not yet).
    smtp: ChannelState | None
    #: Every channel's state, SMTP's included, by name.
    channels: tuple[ChannelState, ...]
    telegram_configured: bool
    #: The Telegram lease while a worker holds it (None: nobody sends on Telegram now).
    telegram_lease: Lease | None
    #: Subscribers whose Telegram chat blocked the bot.
    blocked_chats: int

    @property
    def ok(self) -> bool:
        return self.store == "ok" and not (self.smtp is not None and self.smtp.paused)


@dataclass(frozen=True)
class ChannelOutbox:
    """One channel's messages: waiting (pending or retrying) and in flight now, sent and
    failed over the last 30 days."""

    channel: str
    pending: int
    retry: int
    sending: int
    sent_30_days: int
    failed_30_days: int

    @property
    def waiting(self) -> int:
        return self.pending + self.retry


@dataclass(frozen=True)
class NextDigest:
    """A list's next scheduled digest: when, and to how many (its members, and the Telegram
    groups subscribed to it). Members are counted whatever their status: who of them receives
    it is decided when it is built."""

    slug: str
    name: str
    cadence: str
    due: datetime
    members: int
    groups: int


@dataclass(frozen=True)
class Day:
    """One UTC day. `joined` / `left` are subscribers (for a coordinator: members of their
    lists); `bounced` and `sent` / `failed` (by channel) are None for a coordinator."""

    day: date
    joined: int
    left: int
    bounced: int | None
    sent: dict[str, int] | None
    failed: dict[str, int] | None


@dataclass(frozen=True)
class Dashboard:
    at: datetime
    #: True when the figures are of the actor's lists only (a coordinator).
    scoped: bool
    health: Health
    #: Per channel; None for a coordinator (the outbox is not theirs to see).
    outbox: tuple[ChannelOutbox, ...] | None
    next_digests: tuple[NextDigest, ...]
    #: The last 30 days, oldest first, today last.
    days: tuple[Day, ...]


async def dashboard(
    store: Store, settings: Settings, by: Actor, *, now: datetime | None = None
) -> Dashboard:
    """The dashboard as `by` may see it.

    Everyone sees the health. Owners and editors see everything else for the whole
    installation. A coordinator (scoped=True) sees the next digests of their own lists only,
    and per day the members who joined their lists (`list_members.joined_at`) and who left
    them themselves (`list_departures`); not the outbox, bounces or messages sent, which are
    not theirs (Area.OUTBOX)."""
    if not by.may(Area.DASHBOARD):
        raise NotFoundError("dashboard: not yours to see")
    now = now or utcnow()
    today = now.date()
    first = today - timedelta(days=DAYS - 1)
    scoped = not by.sees_every_list
    smtp_configured = settings.smtp_url is not None
    telegram = settings.telegram_bot_token is not None
    async with store.read() as session:
        try:
            await session.execute(text("SELECT 1"))
        except (OSError, DBAPIError, StoreUnavailable) as exc:  # say which kind, not a trace
            return _unreachable(now, scoped, exc, smtp_configured, telegram)
        health = await _health(session, now, smtp_configured, telegram)
        lists = await _lists(session, by)
        digests = await _next_digests(session, lists, now)
        outbox: tuple[ChannelOutbox, ...] | None = None
        if scoped:
            days = await _list_days(session, [m.id for m in lists], first, today)
        else:
            outbox = await _outbox(session, first)
            days = await _days(session, first, today)
    return Dashboard(now, scoped, health, outbox, digests, days)


def _unreachable(
    now: datetime, scoped: bool, exc: BaseException, smtp: bool, telegram: bool
) -> Dashboard:
    health = Health(
        store=f"unreachable: {type(exc).__name__}",
        email="smtp" if smtp else "maildir",
        smtp=None,
        channels=(),
        telegram_configured=telegram,
        telegram_lease=None,
        blocked_chats=0,
    )
    return Dashboard(now, scoped, health, None if scoped else (), (), ())


async def _health(session: AsyncSession, now: datetime, smtp: bool, telegram: bool) -> Health:
    channels = tuple(
        ChannelState(h.name, h.paused_until is not None and h.paused_until > now, h.paused_until,
                     h.note, h.updated_at)
        for h in await session.scalars(select(ChannelHealth).order_by(ChannelHealth.name))
    )  # fmt: skip
    lease = (
        await session.execute(
            select(ChannelLease.name, ChannelLease.holder, ChannelLease.until)
            .where(ChannelLease.name.like("telegram%"), ChannelLease.until > now)
            .order_by(ChannelLease.until.desc())
            .limit(1)
        )
    ).first()
    blocked = await session.scalar(
        select(func.count())
        .select_from(Subscriber)
        .where(Subscriber.telegram_blocked_at.is_not(None))
    )
    return Health(
        store="ok",
        email="smtp" if smtp else "maildir",
        smtp=next((c for c in channels if c.name == SMTP_CHANNEL), None),
        channels=channels,
        telegram_configured=telegram,
        telegram_lease=Lease(*lease) if lease else None,
        blocked_chats=int(blocked or 0),
    )


async def _outbox(session: AsyncSession, first: date) -> tuple[ChannelOutbox, ...]:
    """Waiting rows through ix_outbox_due, in-flight ones through ix_outbox_in_flight (each
    holds only those rows); sent and failed from the daily counts."""
    counts: dict[tuple[str, str], int] = {}
    waiting = (
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(status_in(*CLAIMABLE))
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    )
    sending = (
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(status_in(OutboxStatus.SENDING))
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    )
    for query in (waiting, sending):
        for lane, status, n in await session.execute(query):
            counts[(lane.value, status.value)] = n
    finished = await session.execute(
        select(DailyCount.channel, DailyCount.metric, func.sum(DailyCount.count))
        .where(DailyCount.day >= first, DailyCount.metric.in_((SENT_METRIC, FAILED_METRIC)))
        .group_by(DailyCount.channel, DailyCount.metric)
    )
    for name, metric, n in finished:
        counts[(name, metric)] = int(n)
    return tuple(
        ChannelOutbox(
            channel=channel,
            pending=counts.get((channel, OutboxStatus.PENDING.value), 0),
            retry=counts.get((channel, OutboxStatus.RETRY.value), 0),
            sending=counts.get((channel, OutboxStatus.SENDING.value), 0),
            sent_30_days=counts.get((channel, SENT_METRIC), 0),
            failed_30_days=counts.get((channel, FAILED_METRIC), 0),
        )
        for channel in CHANNELS
    )


async def _lists(session: AsyncSession, by: Actor) -> list[MailingList]:
    query = select(MailingList).order_by(MailingList.slug)
    if not by.sees_every_list:
        query = query.where(MailingList.slug.in_(sorted(by.lists)))
    return list(await session.scalars(query))


async def _next_digests(
    session: AsyncSession, lists: list[MailingList], now: datetime
) -> tuple[NextDigest, ...]:
    """The soonest NEXT_DIGESTS list digests (instant lists have none); members counted per
    list by its primary key's range, only for those shown."""
    due: list[tuple[datetime, MailingList]] = []
    for mailing_list in lists:
        if mailing_list.cadence is Cadence.INSTANT:
            continue
        try:
            when = next_due(list_schedule(mailing_list), mailing_list.time_zone, now)
        except ValueError:  # a schedule the list's file got wrong: no digest to show
            continue
        due.append((when, mailing_list))
    due.sort(key=lambda pair: (pair[0], pair[1].slug))
    shown = due[:NEXT_DIGESTS]
    ids = [m.id for _, m in shown]
    members: dict[int, int] = {}
    groups: dict[int, int] = {}
    if ids:
        members = {
            i: n
            for i, n in await session.execute(
                select(ListMember.list_id, func.count())
                .where(ListMember.list_id.in_(ids))
                .group_by(ListMember.list_id)
            )
        }
        groups = {
            i: n
            for i, n in await session.execute(
                select(ListChat.list_id, func.count())
                .where(ListChat.list_id.in_(ids), ListChat.status == ChatStatus.ACTIVE)
                .group_by(ListChat.list_id)
            )
        }
    return tuple(
        NextDigest(m.slug, m.name, m.cadence.value, when, members.get(m.id, 0), groups.get(m.id, 0))
        for when, m in shown
    )


def _utc_day(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC day of a stored time, in SQL (SQLite keeps UTC text; PostgreSQL a timestamptz)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def _day_range(first: date, today: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((today - first).days + 1)]


async def _days(session: AsyncSession, first: date, today: date) -> tuple[Day, ...]:
    """Every figure from `daily_counts`: one primary-key range scan of a few rows a day."""
    counts: dict[tuple[date, str, str], int] = {}
    for day, metric, channel, n in await session.execute(
        select(DailyCount.day, DailyCount.metric, DailyCount.channel, DailyCount.count).where(
            DailyCount.day >= first, DailyCount.day <= today
        )
    ):
        counts[(day, metric, channel)] = int(n)
    return tuple(
        Day(
            day=day,
            joined=counts.get((day, JOINED_METRIC, ""), 0),
            left=counts.get((day, LEFT_METRIC, ""), 0),
            bounced=counts.get((day, BOUNCED_METRIC, ""), 0),
            sent={c: counts.get((day, SENT_METRIC, c), 0) for c in CHANNELS},
            failed={c: counts.get((day, FAILED_METRIC, c), 0) for c in CHANNELS},
        )
        for day in _day_range(first, today)
    )


async def _list_days(
    session: AsyncSession, list_ids: list[int], first: date, today: date
) -> tuple[Day, ...]:
    """A coordinator's days: members who joined their lists (by `joined_at`, through
    ix_list_members_joined) and who left them themselves (`list_departures`, through
    ix_list_departures_left). Someone on two of their lists counts on each."""
    joined: dict[date, int] = {}
    left: dict[date, int] = {}
    if list_ids:
        start = datetime.combine(first, time.min, tzinfo=UTC)
        for column, into, model in (
            (ListMember.joined_at, joined, ListMember),
            (ListDeparture.left_at, left, ListDeparture),
        ):
            day = _utc_day(session, column)
            for on, n in await session.execute(
                select(day, func.count())
                .where(model.list_id.in_(list_ids), column >= start)
                .group_by(day)
            ):
                into[on if isinstance(on, date) else date.fromisoformat(on)] = n
    return tuple(
        Day(day, joined.get(day, 0), left.get(day, 0), None, None, None)
        for day in _day_range(first, today)
    )
