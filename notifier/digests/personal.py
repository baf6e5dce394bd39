"""Personal digests: each subscriber's daily or weekly follows, at their own hour (and day) in
their own time zone. Subscribers sharing a schedule are built together, in chunks; a body is
rendered once per distinct content and shared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, String, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import locales
from notifier.digests.content import (
    Candidate,
    CandidateIndex,
    latest_update_id,
    load_candidates,
    sections_of,
)
from notifier.digests.periods import label_for, personal_schedule, previous_due
from notifier.digests.records import DigestReport, insert_outbox, save_cursors, store_bodies
from notifier.domain import Cadence, Channel, MessageKind, OutboxStatus, outbox_keys
from notifier.domain.schedule import Schedule, last_due, period_key
from notifier.faults import checkpoint
from notifier.locales import N_
from notifier.render.messages import RenderedBody, Renderer
from notifier.store.engine import Store
from notifier.store.models import DigestCursor, Subscriber, Subscription
from notifier.store.reach import reachable, receiving

#: Subscribers whose personal digests are built per transaction.
CHUNK = 2_000
#: Advisory lock id held while personal digests are planned (an arbitrary constant).
DIGEST_PLAN_LOCK = 0x6E6F746469

#: A personal digest's title by cadence, in English (shown in the reader's language).
TITLES = {Cadence.DAILY: N_("Your daily digest"), Cadence.WEEKLY: N_("Your weekly digest")}


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
        .where(Subscription.cadence.in_([Cadence.DAILY, Cadence.WEEKLY]), _reach())
        .distinct()
    )
    groups = {
        PersonalGroup(cadence, day if cadence is Cadence.WEEKLY else 0, at, zone)
        for cadence, day, at, zone in rows
    }
    return sorted(groups, key=lambda g: (g.zone, g.cadence.value, g.day, g.at))


def _reach() -> ColumnElement[bool]:
    """The subscription's channel can reach its subscriber."""
    return or_(
        and_(Subscription.channel == Channel.EMAIL, reachable(Channel.EMAIL)),
        and_(Subscription.channel == Channel.TELEGRAM, reachable(Channel.TELEGRAM)),
    )


def _group_filter(group: PersonalGroup, now: datetime) -> list[object]:
    """Who in the group gets a digest now, by which follows: those a channel can reach. One who
    is pausing is left out, and their cursor stays where it was: the first digest after the
    pause covers it. (Chunks page by this too, so people nothing reaches are not read.)"""
    conditions: list[object] = [
        Subscription.cadence == group.cadence,
        _reach(),
        receiving(now),
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
    #: The language they read: their locale's nearest shipped one ('de-AT' reads 'de'), so
    #: readers of one language share bodies however their locale is spelled.
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
    indexes: dict[tuple[object, ...], CandidateIndex],
) -> DigestReport:
    """Personal digests for these subscribers of the group, for the period ending at `due`.
    `rendered` and `indexes` carry bodies and candidates from chunk to chunk."""
    report = DigestReport()
    period = period_key(due)
    digest_key = (
        literal(outbox_keys.SUBSCRIBER)
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
        )
        .join(Subscriber)
        .outerjoin(DigestCursor, DigestCursor.digest_key == digest_key)
        .where(
            *_group_filter(group, now),  # type: ignore[arg-type]
            Subscriber.id.in_(subscriber_ids),
        )
    )
    recipients: dict[tuple[int, Channel], _Recipient] = {}
    for sid, locale, channel, target, created, cur_period, through in rows:
        r = recipients.get((sid, channel))
        if r is None:
            r = recipients[(sid, channel)] = _Recipient(
                sid, channel, locales.shipped(locale), cursor_period=cur_period, through=through
            )
        r.targets.add(target)
        r.since = created if r.since is None else min(r.since, created)
    todo = [
        r
        for r in recipients.values()
        # Period keys sort as times: a schedule moved earlier (07:00 → yesterday 23:00) does
        # not build again for a period that ended before the one already built.
        if (r.cursor_period is None or r.cursor_period < period)
        # A digest whose first period has not ended yet (it began after `due`) waits.
        and not (r.through is None and r.since is not None and r.since > due)
    ]
    if not todo:
        return report
    throughs = [r.through for r in todo if r.through is not None]
    sinces = [r.since for r in todo if r.through is None and r.since is not None]
    bounds = (upper, min(throughs) if throughs else None, min(sinces) if sinces else None)
    index = indexes.get(bounds)
    if index is None:  # chunks of one group usually share their bounds: load once
        candidates = await load_candidates(
            session, upper=bounds[0], after_id=bounds[1], entered_since=bounds[2]
        )
        index = indexes[bounds] = CandidateIndex(candidates)
    start = previous_due(group.schedule, group.zone, due)
    label = label_for(start, due, group.zone)  # (in English: part of the content's key)
    title = TITLES[group.cadence]
    cursors: list[dict[str, object]] = []
    planned: list[tuple[_Recipient, str, tuple[object, ...]]] = []
    to_render: dict[tuple[object, ...], tuple[list[Candidate], _Recipient]] = {}
    for r in todo:
        report.digests += 1
        chosen = index.select(
            r.targets,
            after_id=r.through,
            entered_since=r.since if r.through is None else None,
        )
        key = outbox_keys.personal_digest(r.subscriber_id, group.cadence, r.channel)
        cursors.append(
            {"digest_key": key, "period": period, "through_update_id": upper, "updated_at": now}
        )
        if not chosen:
            report.empty += 1
            continue
        # Render once per distinct (updates, channel, locale); everyone else shares the body.
        content_key = (tuple(c.id for c in chosen), r.channel, r.locale, title, label)
        planned.append((r, key, content_key))
        if content_key not in rendered and content_key not in to_render:
            to_render[content_key] = (chosen, r)
    bodies: dict[tuple[object, ...], RenderedBody] = {}
    for wanted, (picked, reader) in to_render.items():
        with locales.speaking(reader.locale):  # the title and period in the reader's language
            bodies[wanted] = renderer.digest(
                title=locales._(title),
                intro=(),
                sections=sections_of(picked),
                period_label=label_for(start, due, group.zone),
                channel=reader.channel,
                locale=reader.locale,
            )
    report.bodies += len(bodies)
    holds = {body.digest: [c.id for c in to_render[ck][0]] for ck, body in bodies.items()}
    stored = await store_bodies(session, list(bodies.values()), holds)
    rendered.update({ck: stored[body.digest] for ck, body in bodies.items()})
    outbox = [
        {
            "channel": r.channel.value,
            "recipient": outbox_keys.subscriber_recipient(r.subscriber_id),
            "subscriber_id": r.subscriber_id,
            "key": outbox_keys.digest_message(key, period),
            "kind": MessageKind.DIGEST.value,
            "body_id": rendered[content_key],
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for r, key, content_key in planned
    ]
    report.messages += await insert_outbox(session, outbox)
    await save_cursors(session, cursors)
    checkpoint("digest.before_commit")
    return report


async def serialize_digest_planning(session: AsyncSession) -> None:
    """One planner at a time builds personal digests. The cursors are read without a row lock
    (most do not exist yet), so on PostgreSQL two planners could each read a different latest
    update and the second move a cursor past news the first did not send; a transaction-level
    advisory lock prevents that. SQLite writes one transaction at a time already."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(DIGEST_PLAN_LOCK)))


async def plan_personal_digests(store: Store, renderer: Renderer, *, now: datetime) -> DigestReport:
    """Build every personal daily/weekly digest whose time has come, in chunks of subscribers."""
    total = DigestReport()
    async with store.transaction() as session:
        groups = await personal_groups(session)
    for group in groups:
        due = last_due(group.schedule, group.zone, now)
        rendered: dict[tuple[object, ...], int] = {}
        indexes: dict[tuple[object, ...], CandidateIndex] = {}
        last_id = 0
        while True:
            async with store.transaction() as session:
                await serialize_digest_planning(session)
                ids = list(
                    await session.scalars(
                        select(Subscriber.id)
                        .join(Subscription)
                        .where(*_group_filter(group, now), Subscriber.id > last_id)  # type: ignore[arg-type]
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
                    subscriber_ids=ids, upper=upper, rendered=rendered, indexes=indexes,
                )  # fmt: skip
            total.add(part)
            last_id = ids[-1]
    return total
