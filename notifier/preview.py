"""Digest previews: what a list's or a subscriber's next digest would hold now, rendered for
one recipient, without writing anything."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier import locales
from notifier.digests import TITLES, list_schedule, personal_schedule
from notifier.digests.content import (
    Candidate,
    latest_update_id,
    load_candidates,
    sections_of,
    select_updates,
)
from notifier.digests.periods import label_for, list_period_start
from notifier.domain import Cadence, Channel, outbox_keys
from notifier.domain.schedule import last_due, next_due
from notifier.domain.views import paragraphs
from notifier.errors import NotFoundError
from notifier.links import Links
from notifier.render.messages import FinalMessage, Personal, Renderer
from notifier.render.templates import period_label
from notifier.store.engine import Store
from notifier.store.models import DigestCursor, Subscriber
from notifier.store.subscribers import get_list

SAMPLE_READER = Personal(
    name="A reader",
    email="reader@example.org",
    reason="you are on this list",
    unsubscribe_url="https://example.org/unsubscribe/preview",
    preferences_url="https://example.org/preferences/preview",
)


async def _next_digest_updates(
    session: AsyncSession,
    digest_key: str,
    targets: frozenset[str],
    *,
    began: datetime,
    recent: int,
) -> list[Candidate]:
    """What the digest would hold now: updates since its last period (or since it began), or
    with `recent`, the N latest matching updates whatever was sent (history included)."""
    upper = await latest_update_id(session)
    if recent:
        candidates = await load_candidates(
            session, upper=upper, after_id=0, entered_since=None, include_history=True
        )
        return [c for c in candidates if c.matches(targets)][-recent:]
    cursor = await session.get(DigestCursor, digest_key)
    after = cursor.through_update_id if cursor else None
    since = None if cursor else began
    candidates = await load_candidates(session, upper=upper, after_id=after, entered_since=since)
    return select_updates(candidates, targets, after_id=after, entered_since=since)


async def preview_list(
    store: Store, renderer: Renderer, slug: str, channel: Channel, *, now: datetime, recent: int
) -> tuple[FinalMessage | None, str]:
    """The list's next digest as it stands now; (None, why) when there is nothing to send."""
    async with store.read() as session:
        found = await get_list(session, slug, follows=True)
        targets = frozenset(f.target for f in found.follows)
        chosen = await _next_digest_updates(
            session, f"list:{found.id}", targets, began=found.created_at, recent=recent
        )
        cursor = await session.get(DigestCursor, f"list:{found.id}")
    if not chosen:
        return (
            None,
            f"nothing new for {slug} since its last digest; --recent N previews the N latest",
        )
    due = next_due(list_schedule(found), found.time_zone, now)
    start = list_period_start(cursor, found, due)
    body = renderer.digest(
        title=found.name,
        intro=paragraphs(found.description),
        sections=sections_of(chosen),
        period_label=label_for(start, due, found.time_zone),
        channel=channel,
        locale="en",
        template=found.template,
    )
    return renderer.personalise(body, SAMPLE_READER), ""


async def preview_subscriber(
    store: Store, renderer: Renderer, links: Links, who: str, channel: Channel, *,
    now: datetime, recent: int,
) -> tuple[FinalMessage | None, str]:  # fmt: skip
    """The subscriber's next personal digest (their daily or weekly follows) as it stands now."""
    async with store.read() as session:
        subscriber = await session.scalar(
            select(Subscriber)
            .where(Subscriber.email == who.strip().lower())
            .options(selectinload(Subscriber.subscriptions))
        )
        if subscriber is None:
            raise NotFoundError(f"no subscriber {who!r}")
        subs = [s for s in subscriber.subscriptions if s.cadence is not Cadence.INSTANT]
        if not subs:
            return (
                None,
                f"{who} has no daily or weekly follows (instant ones get alerts, not digests)",
            )
        cadence = (
            Cadence.WEEKLY if any(s.cadence is Cadence.WEEKLY for s in subs) else Cadence.DAILY
        )
        subs = [s for s in subs if s.cadence is cadence]
        targets = frozenset(s.target for s in subs)
        key = outbox_keys.personal_digest(subscriber.id, cadence, channel)
        began = min(s.created_at for s in subs)
        chosen = await _next_digest_updates(session, key, targets, began=began, recent=recent)
    if not chosen:
        return (
            None,
            f"nothing new for {who} since their last digest; --recent N previews the N latest",
        )
    schedule = personal_schedule(cadence, subscriber.digest_day, subscriber.digest_time)
    tz = ZoneInfo(subscriber.time_zone)
    start = last_due(schedule, subscriber.time_zone, now)
    due = next_due(schedule, subscriber.time_zone, now)
    with locales.speaking(subscriber.locale):  # as the reader would get it
        body = renderer.digest(
            title=locales._(TITLES[cadence]),
            intro=(),
            sections=sections_of(chosen),
            period_label=period_label(start.astimezone(tz).date(), due.astimezone(tz).date()),
            channel=channel,
            locale=subscriber.locale,
        )
        reason = locales._("you asked for a digest of the cases you follow")
    personal = Personal(
        name=subscriber.name,
        email=subscriber.email or "",
        reason=reason,
        unsubscribe_url=links.unsubscribe_url(subscriber.id, subscriber.token_version),
        preferences_url=links.preferences_url(subscriber.id, subscriber.token_version),
        locale=subscriber.locale,
    )
    return renderer.personalise(body, personal), ""
