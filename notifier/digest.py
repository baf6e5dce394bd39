"""The digest planner: for each list and each personal daily/weekly cadence whose scheduled
time has come, build that period's digest once — body rendered once per distinct content,
one outbox row per recipient — and move the digest's cursor, all in one transaction.

A period is named by its due instant (`period_key`), so building it twice writes nothing twice,
and after downtime only the latest missed period is built: it holds everything since the
previous digest, so nothing is lost and nothing is sent twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import String, and_, cast, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier.digest_content import (
    Candidate,
    latest_update_id,
    load_candidates,
    sections_of,
    select_updates,
)
from notifier.faults import checkpoint
from notifier.render.messages import RenderedBody, Renderer
from notifier.render.templates import period_label
from notifier.render.views import paragraphs
from notifier.schedule import Schedule, last_due, parse_schedule, period_key
from notifier.store.engine import Store
from notifier.store.models import (
    Body,
    Cadence,
    Channel,
    DigestCursor,
    ListMember,
    MailingList,
    MessageKind,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    utcnow,
)
from notifier.store.upsert import insert_for

#: Subscribers whose personal digests are built per transaction.
CHUNK = 2_000


@dataclass
class DigestReport:
    digests: int = 0  # digests (lists or subscribers) whose period was built
    messages: int = 0  # outbox rows written
    bodies: int = 0  # distinct bodies rendered
    empty: int = 0  # digests with nothing new: nothing sent
    details: list[str] = field(default_factory=list)


def list_schedule(mailing_list: MailingList) -> Schedule:
    return parse_schedule(mailing_list.schedule, mailing_list.cadence)


def personal_schedule(cadence: Cadence, day: int, at: str) -> Schedule:
    hour, minute = (int(x) for x in at.split(":"))
    return Schedule(time(hour, minute), day if cadence is Cadence.WEEKLY else None)


def _previous(schedule: Schedule, zone: str, instant: datetime) -> datetime:
    return last_due(schedule, zone, instant - timedelta(seconds=1))


async def store_body(session: AsyncSession, body: RenderedBody) -> int:
    """The id of the stored body with this content, storing it if new."""
    await session.execute(
        insert_for(session, Body.__table__)  # type: ignore[arg-type]
        .values(
            digest=body.digest,
            channel=body.channel.value,
            subject=body.subject,
            text=body.text,
            html=body.html,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    return int(await session.scalar(select(Body.id).where(Body.digest == body.digest)) or 0)


async def save_cursors(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    if not rows:
        return
    stmt = insert_for(session, DigestCursor.__table__)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=["digest_key"],
        set_={
            "period": stmt.excluded.period,
            "through_update_id": stmt.excluded.through_update_id,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await session.execute(stmt, list(rows))


async def _insert_outbox(session: AsyncSession, rows: list[dict[str, object]]) -> int:
    if not rows:
        return 0
    stmt = insert_for(session, OutboxMessage.__table__).on_conflict_do_nothing()  # type: ignore[arg-type]
    await session.execute(stmt, rows)
    return len(rows)


# -- lists ---------------------------------------------------------------------------------


async def build_list_digest(
    session: AsyncSession,
    renderer: Renderer,
    mailing_list: MailingList,
    *,
    due: datetime,
    now: datetime,
) -> DigestReport:
    """Build the list's digest for the period ending at `due` (once)."""
    report = DigestReport()
    key = f"list:{mailing_list.id}"
    period = period_key(due)
    cursor = await session.get(DigestCursor, key, with_for_update=True)
    if cursor is not None and cursor.period == period:
        return report
    upper = await latest_update_id(session)
    after = cursor.through_update_id if cursor else None
    since = None if cursor else mailing_list.created_at
    candidates = await load_candidates(session, upper=upper, after_id=after, entered_since=since)
    targets = frozenset(f.target for f in mailing_list.follows)
    chosen = select_updates(candidates, targets, after_id=after, entered_since=since)
    report.digests = 1
    if chosen:
        schedule = list_schedule(mailing_list)
        start = _previous(schedule, mailing_list.time_zone, due)
        for channel in (Channel(c) for c in mailing_list.channels):
            body = renderer.digest(
                title=mailing_list.name,
                intro=paragraphs(mailing_list.description),
                sections=sections_of(chosen),
                period_label=_label(start, due, mailing_list.time_zone),
                channel=channel,
                locale="en",
            )
            report.bodies += 1
            body_id = await store_body(session, body)
            report.messages += await _enqueue_list(
                session, mailing_list, channel, body_id, f"digest:{key}:{period}", now
            )
    else:
        report.empty = 1
    await save_cursors(
        session,
        [{"digest_key": key, "period": period, "through_update_id": upper, "updated_at": now}],
    )
    checkpoint("digest.before_commit")
    report.details.append(
        f"{mailing_list.slug}: {len(chosen)} update(s), {report.messages} message(s)"
    )
    return report


def _label(start: datetime | None, due: datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    return period_label(start.astimezone(tz).date() if start else None, due.astimezone(tz).date())


async def _enqueue_list(
    session: AsyncSession,
    mailing_list: MailingList,
    channel: Channel,
    body_id: int,
    key: str,
    now: datetime,
) -> int:
    reachable = (
        Subscriber.email.is_not(None)
        if channel is Channel.EMAIL
        else Subscriber.telegram_chat_id.is_not(None)
    )
    rows = (
        select(
            literal(channel.value).label("channel"),
            (literal("subscriber:") + cast(Subscriber.id, String)).label("recipient"),
            Subscriber.id.label("subscriber_id"),
            literal(key).label("key"),
            literal(MessageKind.DIGEST.value).label("kind"),
            literal(mailing_list.id).label("list_id"),
            literal(body_id).label("body_id"),
            literal(OutboxStatus.PENDING.value).label("status"),
            literal(0).label("attempts"),
            literal(now, OutboxMessage.next_attempt_at.type).label("next_attempt_at"),
            literal(now, OutboxMessage.created_at.type).label("created_at"),
        )
        .select_from(ListMember)
        .join(Subscriber, Subscriber.id == ListMember.subscriber_id)
        .where(
            and_(
                ListMember.list_id == mailing_list.id,
                Subscriber.status == SubscriberStatus.ACTIVE,
                reachable,
            )
        )
    )
    columns = [
        "channel", "recipient", "subscriber_id", "key", "kind", "list_id", "body_id",
        "status", "attempts", "next_attempt_at", "created_at",
    ]  # fmt: skip
    stmt = (
        insert_for(session, OutboxMessage.__table__)  # type: ignore[arg-type]
        .from_select(columns, rows)
        .on_conflict_do_nothing()
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def plan_list_digests(
    store: Store, renderer: Renderer, *, now: datetime, only: str | None = None
) -> DigestReport:
    """Build every list digest whose time has come and is not yet built."""
    total = DigestReport()
    async with store.transaction() as session:
        lists = list(
            await session.scalars(
                select(MailingList)
                .where(MailingList.cadence != Cadence.INSTANT)
                .options(selectinload(MailingList.follows))
            )
        )
    for mailing_list in lists:
        if only is not None and mailing_list.slug != only:
            continue
        due = last_due(list_schedule(mailing_list), mailing_list.time_zone, now)
        if due < mailing_list.created_at:
            continue  # its first period has not ended yet
        async with store.transaction() as session:
            fresh = await session.get(
                MailingList, mailing_list.id, options=[selectinload(MailingList.follows)]
            )
            if fresh is None:
                continue
            part = await build_list_digest(session, renderer, fresh, due=due, now=now)
        _add(total, part)
    return total


def _add(total: DigestReport, part: DigestReport) -> None:
    total.digests += part.digests
    total.messages += part.messages
    total.bodies += part.bodies
    total.empty += part.empty
    total.details += part.details


# -- personal cadences -----------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalGroup:
    """Subscribers whose personal digests share one schedule."""

    cadence: Cadence
    day: int
    at: str
    zone: str

    @property
    def schedule(self) -> Schedule:
        return personal_schedule(self.cadence, self.day, self.at)


async def personal_groups(session: AsyncSession) -> list[PersonalGroup]:
    rows = await session.execute(
        select(
            Subscription.cadence,
            Subscriber.digest_day,
            Subscriber.digest_time,
            Subscriber.time_zone,
        )
        .join(Subscriber)
        .where(
            Subscription.cadence.in_([Cadence.DAILY, Cadence.WEEKLY]),
            Subscriber.status == SubscriberStatus.ACTIVE,
        )
        .distinct()
    )
    groups = {
        PersonalGroup(cadence, day if cadence is Cadence.WEEKLY else 0, at, zone)
        for cadence, day, at, zone in rows
    }
    return sorted(groups, key=lambda g: (g.zone, g.cadence.value, g.day, g.at))


def _group_filter(group: PersonalGroup) -> list[object]:
    conditions: list[object] = [
        Subscription.cadence == group.cadence,
        Subscriber.status == SubscriberStatus.ACTIVE,
        Subscriber.time_zone == group.zone,
        Subscriber.digest_time == group.at,
    ]
    if group.cadence is Cadence.WEEKLY:
        conditions.append(Subscriber.digest_day == group.day)
    return conditions


@dataclass
class _Recipient:
    subscriber_id: int
    channel: Channel
    locale: str
    targets: set[str] = field(default_factory=set)
    since: datetime | None = None
    cursor_period: str | None = None
    through: int | None = None


async def build_personal_digests(
    session: AsyncSession,
    renderer: Renderer,
    group: PersonalGroup,
    *,
    due: datetime,
    now: datetime,
    subscriber_ids: Sequence[int],
    upper: int,
    rendered: dict[tuple[object, ...], int],
) -> DigestReport:
    """Personal digests for these subscribers of the group, for the period ending at `due`."""
    report = DigestReport()
    period = period_key(due)
    digest_key = (
        literal("subscriber:")
        + cast(Subscriber.id, String)
        + literal(f":{group.cadence.value}:")
        + Subscription.channel
    )
    rows = await session.execute(
        select(
            Subscriber.id,
            Subscriber.locale,
            Subscription.channel,
            Subscription.target,
            Subscription.created_at,
            DigestCursor.period,
            DigestCursor.through_update_id,
            Subscriber.email,
            Subscriber.telegram_chat_id,
        )
        .join(Subscriber)
        .outerjoin(DigestCursor, DigestCursor.digest_key == digest_key)
        .where(*_group_filter(group), Subscriber.id.in_(subscriber_ids))  # type: ignore[arg-type]
    )
    recipients: dict[tuple[int, Channel], _Recipient] = {}
    for sid, locale, channel, target, created, cur_period, through, email, chat in rows:
        if (channel is Channel.EMAIL and email is None) or (
            channel is Channel.TELEGRAM and chat is None
        ):
            continue
        r = recipients.get((sid, channel))
        if r is None:
            r = recipients[(sid, channel)] = _Recipient(
                sid, channel, locale, cursor_period=cur_period, through=through
            )
        r.targets.add(target)
        r.since = created if r.since is None else min(r.since, created)
    todo = [
        r
        for r in recipients.values()
        if r.cursor_period != period
        # A digest whose first period has not ended yet (it began after `due`) waits.
        and not (r.through is None and r.since is not None and r.since > due)
    ]
    if not todo:
        return report
    throughs = [r.through for r in todo if r.through is not None]
    sinces = [r.since for r in todo if r.through is None and r.since is not None]
    candidates = await load_candidates(
        session,
        upper=upper,
        after_id=min(throughs) if throughs else None,
        entered_since=min(sinces) if sinces else None,
    )
    start = _previous(group.schedule, group.zone, due)
    label = _label(start, due, group.zone)
    title = f"Your {group.cadence.value} digest"
    outbox: list[dict[str, object]] = []
    cursors: list[dict[str, object]] = []
    for r in todo:
        report.digests += 1
        chosen = select_updates(
            candidates,
            frozenset(r.targets),
            after_id=r.through,
            entered_since=r.since if r.through is None else None,
        )
        key = f"subscriber:{r.subscriber_id}:{group.cadence.value}:{r.channel.value}"
        cursors.append(
            {"digest_key": key, "period": period, "through_update_id": upper, "updated_at": now}
        )
        if not chosen:
            report.empty += 1
            continue
        body_id = await _body_for(session, renderer, rendered, chosen, r, title, label, report)
        outbox.append(
            {
                "channel": r.channel.value,
                "recipient": f"subscriber:{r.subscriber_id}",
                "subscriber_id": r.subscriber_id,
                "key": f"digest:{key}:{period}",
                "kind": MessageKind.DIGEST.value,
                "body_id": body_id,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    report.messages += await _insert_outbox(session, outbox)
    await save_cursors(session, cursors)
    checkpoint("digest.before_commit")
    return report


async def _body_for(
    session: AsyncSession,
    renderer: Renderer,
    rendered: dict[tuple[object, ...], int],
    chosen: list[Candidate],
    r: _Recipient,
    title: str,
    label: str,
    report: DigestReport,
) -> int:
    """Render once per distinct (updates, channel, locale); every other recipient reuses it."""
    content_key = (tuple(c.id for c in chosen), r.channel, r.locale, title, label)
    body_id = rendered.get(content_key)
    if body_id is None:
        body = renderer.digest(
            title=title,
            intro=(),
            sections=sections_of(chosen),
            period_label=label,
            channel=r.channel,
            locale=r.locale,
        )
        report.bodies += 1
        body_id = rendered[content_key] = await store_body(session, body)
    return body_id


async def plan_personal_digests(store: Store, renderer: Renderer, *, now: datetime) -> DigestReport:
    """Build every personal daily/weekly digest whose time has come, in chunks of subscribers."""
    total = DigestReport()
    async with store.transaction() as session:
        groups = await personal_groups(session)
    for group in groups:
        due = last_due(group.schedule, group.zone, now)
        rendered: dict[tuple[object, ...], int] = {}
        last_id = 0
        while True:
            async with store.transaction() as session:
                ids = list(
                    await session.scalars(
                        select(Subscriber.id)
                        .join(Subscription)
                        .where(*_group_filter(group), Subscriber.id > last_id)  # type: ignore[arg-type]
                        .distinct()
                        .order_by(Subscriber.id)
                        .limit(CHUNK)
                    )
                )
                if not ids:
                    break
                upper = await latest_update_id(session)
                part = await build_personal_digests(
                    session, renderer, group, due=due, now=now,
                    subscriber_ids=ids, upper=upper, rendered=rendered,
                )  # fmt: skip
            _add(total, part)
            last_id = ids[-1]
    return total


async def plan_digests(
    store: Store, renderer: Renderer, *, now: datetime | None = None
) -> DigestReport:
    """Every digest due at `now` (lists and personal cadences), each built once."""
    moment = now or utcnow()
    report = await plan_list_digests(store, renderer, now=moment)
    _add(report, await plan_personal_digests(store, renderer, now=moment))
    return report
