"""List digests (prayer chains): one body per channel and language for the whole list, one
outbox row per member, built once per period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, and_, cast, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier import locales
from notifier.digests.content import latest_update_id, load_candidates, sections_of, select_updates
from notifier.digests.periods import label_for, list_period_start, list_schedule
from notifier.digests.records import DigestReport, insert_outbox, save_cursors, store_body
from notifier.domain import Cadence, Channel, ChatStatus, MessageKind, OutboxStatus, outbox_keys
from notifier.domain.schedule import last_due, period_key
from notifier.domain.views import paragraphs
from notifier.faults import checkpoint
from notifier.render.messages import Renderer
from notifier.store.engine import Store
from notifier.store.models import (
    DigestCursor,
    ListChat,
    ListDigest,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
)
from notifier.store.reach import reachable, receiving
from notifier.store.upsert import insert_for


async def build_list_digest(
    session: AsyncSession,
    renderer: Renderer,
    mailing_list: MailingList,
    *,
    due: datetime,
    now: datetime,
) -> DigestReport:
    """Build the list's digest for the period ending at `due` (once): a scheduled due time, or
    the moment a digest is sent by hand (`send_list_digest_now`)."""
    report = DigestReport()
    key = outbox_keys.list_digest(mailing_list.id)
    period = period_key(due)
    cursor = await session.get(DigestCursor, key, with_for_update=True)
    # Period keys are UTC instants ('2026-11-30T02:00Z'): they sort as times. A schedule moved
    # earlier must not build again for a period that ended before the one already built.
    if cursor is not None and cursor.period >= period:
        return report
    upper = await latest_update_id(session)
    after = cursor.through_update_id if cursor else None
    since = None if cursor else mailing_list.created_at
    candidates = await load_candidates(session, upper=upper, after_id=after, entered_since=since)
    targets = frozenset(f.target for f in mailing_list.follows)
    chosen = select_updates(candidates, targets, after_id=after, entered_since=since)
    report.digests = 1
    if chosen:
        start = list_period_start(cursor, mailing_list, due)
        sections = sections_of(chosen)
        for channel in (Channel(c) for c in mailing_list.channels):
            message_key = outbox_keys.digest_message(key, period)
            readers = await _languages(session, mailing_list, channel, now)
            groups = (
                await _group_languages(session, mailing_list) if channel is Channel.TELEGRAM else {}
            )
            # One body per language spoken on the channel; English always, as the archive's
            # copy (the console speaks English) even when no member reads it.
            bodies: dict[str, int] = {}
            for language in sorted({locales.DEFAULT, *readers, *groups}):
                with locales.speaking(language):  # the period's dates in the reader's words
                    body = renderer.digest(
                        title=mailing_list.name,
                        intro=paragraphs(mailing_list.description),
                        sections=sections,
                        period_label=label_for(start, due, mailing_list.time_zone),
                        channel=channel,
                        locale=language,
                        template=mailing_list.template,
                    )
                report.bodies += 1
                bodies[language] = await store_body(session, body, [c.id for c in chosen])
            queued = 0
            for language, stored in readers.items():
                queued += await _enqueue_list(
                    session, mailing_list, channel, bodies[language], stored, message_key, now
                )
            for language, chats in groups.items():
                queued += await _enqueue_groups(
                    session, mailing_list, bodies[language], chats, message_key, now
                )
            report.messages += queued
            # The list's archive (the console's): kept as it is built, not counted from the
            # outbox's rows each time it is shown.
            await session.execute(
                insert_for(session, ListDigest)
                .values(
                    list_id=mailing_list.id,
                    period=period,
                    channel=channel,
                    body_id=bodies[locales.DEFAULT],
                    recipients=queued,
                    queued_at=now,
                )
                .on_conflict_do_nothing()
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


async def send_list_digest_now(
    session: AsyncSession, renderer: Renderer, mailing_list: MailingList, *, now: datetime
) -> DigestReport:
    """A digest sent by hand (`digest send`): it covers what came since the list's last digest
    up to `now`, and its label ends today. The scheduled digest still comes on its usual day,
    with what came after (labelled from now): nothing is held back to the week after, nothing
    comes twice. Sent twice within a minute, it is built once (the period is named to the
    minute, like every other)."""
    return await build_list_digest(session, renderer, mailing_list, due=now, now=now)


async def _enqueue_list(
    session: AsyncSession,
    mailing_list: MailingList,
    channel: Channel,
    body_id: int,
    stored_locales: Sequence[str],
    key: str,
    now: datetime,
) -> int:
    """One row per member reachable on the channel whose stored locale is one of
    `stored_locales` (the spellings of one language), all sharing `body_id`."""
    rows = (
        select(
            literal(channel.value).label("channel"),
            (literal(outbox_keys.SUBSCRIBER) + cast(Subscriber.id, String)).label("recipient"),
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
                receiving(now),
                reachable(channel),
                Subscriber.locale.in_(stored_locales),
            )
        )
    )
    columns = [
        "channel", "recipient", "subscriber_id", "key", "kind", "list_id", "body_id",
        "status", "attempts", "next_attempt_at", "created_at",
    ]  # fmt: skip
    stmt = insert_for(session, OutboxMessage).from_select(columns, rows).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def _languages(
    session: AsyncSession, mailing_list: MailingList, channel: Channel, now: datetime
) -> dict[str, list[str]]:
    """The languages the list's members read on the channel (those it reaches now), each with
    the locales stored for it ('de': ['de', 'de-AT']); a locale without a catalog reads
    English."""
    stored = await session.scalars(
        select(Subscriber.locale)
        .select_from(ListMember)
        .join(Subscriber, Subscriber.id == ListMember.subscriber_id)
        .where(ListMember.list_id == mailing_list.id, receiving(now), reachable(channel))
        .group_by(Subscriber.locale)
    )
    languages: dict[str, list[str]] = {}
    for locale in stored:
        languages.setdefault(locales.shipped(locale), []).append(locale)
    return languages


async def _group_languages(
    session: AsyncSession, mailing_list: MailingList
) -> dict[str, list[int]]:
    """The Telegram groups an admin subscribed to the list, by the language they read."""
    chats = await session.execute(
        select(ListChat.chat_id, ListChat.locale).where(
            ListChat.list_id == mailing_list.id, ListChat.status == ChatStatus.ACTIVE
        )
    )
    languages: dict[str, list[int]] = {}
    for chat, locale in chats:
        languages.setdefault(locales.shipped(locale), []).append(chat)
    return languages


async def _enqueue_groups(
    session: AsyncSession,
    mailing_list: MailingList,
    body_id: int,
    chats: Sequence[int],
    key: str,
    now: datetime,
) -> int:
    """One row per Telegram group in `chats`."""
    return await insert_outbox(
        session,
        [
            {
                "channel": Channel.TELEGRAM.value,
                "recipient": outbox_keys.chat_recipient(chat),
                "subscriber_id": None,
                "key": key,
                "kind": MessageKind.DIGEST.value,
                "list_id": mailing_list.id,
                "body_id": body_id,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for chat in chats
        ],
    )


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
        total.add(part)
    return total
