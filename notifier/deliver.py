"""Deliver: claim due outbox rows in batches, turn each into a message for its recipient,
send through the channel, record the outcome. One bad message never stops a batch."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from notifier.channels.base import (
    EmailContent,
    Outcome,
    Outgoing,
    Result,
    Sender,
    SharedBody,
    TelegramContent,
)
from notifier.config import Settings
from notifier.faults import checkpoint
from notifier.links import Links
from notifier.outbox import (
    Claimed,
    anything_due,
    backoff,
    claim,
    mark_final,
    mark_retry,
    mark_sent,
)
from notifier.render.messages import Personal, RenderedBody, Renderer, shared_body
from notifier.render.telegram_html import split_telegram_html
from notifier.render.views import case_view, update_view
from notifier.store.engine import Store
from notifier.store.models import (
    Body,
    Case,
    Channel,
    ChannelHealth,
    ListMember,
    MailingList,
    MessageKind,
    OutboxMessage,
    OutboxStatus,
    Scope,
    Subscriber,
    SubscriberStatus,
    Update,
    utcnow,
)
from notifier.store.upsert import insert_for

log = logging.getLogger(__name__)


@dataclass
class DeliverReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliverReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.suppressed += other.suppressed
        self.errors += other.errors[-20:]


def _reason(subscriber: Subscriber, row: OutboxMessage, case: Case | None) -> str:
    """Why this person gets this message, in a few words, for the footer."""
    if row.list_id is not None and row.kind is MessageKind.DIGEST:
        name = next(
            (m.mailing_list.name for m in subscriber.memberships if m.list_id == row.list_id),
            "a prayer chain",
        )
        return f"you are on the list “{name}”"
    if row.kind is MessageKind.DIGEST:
        return "you asked for a digest of the cases you follow"
    if case is not None:
        for sub in subscriber.subscriptions:
            if sub.scope is Scope.CASE and sub.case_id == case.id:
                return f"you follow {case.name}"
        for sub in subscriber.subscriptions:
            if sub.scope is Scope.COUNTRY and sub.country == case.country:
                return f"you follow news from {case_view(case).country_name}"
        for membership in subscriber.memberships:
            return f"you are on the list “{membership.mailing_list.name}”"
    return "you follow every case"


class Deliverer:
    """Owns the senders and the render caches for the life of a process."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        senders: Mapping[Channel, Sender],
        renderer: Renderer,
        links: Links,
    ) -> None:
        self.store = store
        self.settings = settings
        self.senders = senders
        self.renderer = renderer
        self.links = links
        self._alert_bodies: dict[tuple[int, Channel, str], RenderedBody] = {}
        self._bodies: dict[int, RenderedBody] = {}
        self._shared: dict[str, SharedBody] = {}
        # What each sender last reported; a healthy sender that never failed writes nothing.
        self._health: dict[str, tuple[float | None, str]] = {
            sender.name: (None, "") for sender in senders.values()
        }

    def _alert_body(
        self, update_row: Update, case: Case, channel: Channel, locale: str
    ) -> RenderedBody:
        key = (update_row.id, channel, locale)
        body = self._alert_bodies.get(key)
        if body is None:
            if len(self._alert_bodies) > 1000:
                self._alert_bodies.clear()
            body = self._alert_bodies[key] = self.renderer.alert(
                case_view(case), update_view(update_row), channel, locale
            )
        return body

    async def deliver_batch(self, *, now: datetime | None = None) -> DeliverReport:
        """Claim one batch, send it, record it. Returns what happened (claimed == 0: idle)."""
        moment = now or utcnow()
        report = DeliverReport()
        async with self.store.read() as session:
            if not await anything_due(session, now=moment):
                return report  # idle: no write lock taken
        async with self.store.transaction() as session:
            claimed = await claim(
                session,
                now=moment,
                lease=timedelta(seconds=self.settings.lease_seconds),
                limit=self.settings.deliver_batch,
            )
        checkpoint("deliver.after_claim")
        report.claimed = len(claimed)
        if not claimed:
            return report
        created = {c.id: c for c in claimed}
        outgoing, suppressed = await self._prepare([c.id for c in claimed])
        results: list[Result] = []
        by_channel: dict[Channel, list[Outgoing]] = defaultdict(list)
        for channel, message in outgoing:
            by_channel[channel].append(message)
        for channel, messages in by_channel.items():
            try:
                results += await self.senders[channel].send(messages)
            except Exception as exc:  # a sender bug must not lose the batch: retry it
                log.exception("channel %s failed", channel.value)
                results += [Result(m.outbox_id, Outcome.TEMPORARY, repr(exc)) for m in messages]
        checkpoint("deliver.after_send")
        await self._record(results, suppressed, created, moment, report)
        await self._save_health(moment)
        checkpoint("deliver.after_record")
        return report

    async def _prepare(
        self, ids: Sequence[int]
    ) -> tuple[list[tuple[Channel, Outgoing]], dict[int, str]]:
        """Build each claimed message; those that must not go out, with the reason why."""
        async with self.store.transaction() as session:
            rows = list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids))
                    .order_by(OutboxMessage.id)
                )
            )
            subscriber_ids = {r.subscriber_id for r in rows if r.subscriber_id is not None}
            subscribers = {
                s.id: s
                for s in await session.scalars(
                    select(Subscriber)
                    .where(Subscriber.id.in_(subscriber_ids))
                    .options(
                        selectinload(Subscriber.subscriptions),
                        selectinload(Subscriber.memberships).selectinload(ListMember.mailing_list),
                    )
                )
            }
            update_ids = {r.update_id for r in rows if r.update_id is not None}
            updates = {
                u.id: (u, c)
                for u, c in await session.execute(
                    select(Update, Case).join(Case).where(Update.id.in_(update_ids))
                )
            }
            body_ids = {r.body_id for r in rows if r.body_id is not None} - set(self._bodies)
            for stored in await session.scalars(select(Body).where(Body.id.in_(body_ids))):
                self._bodies[stored.id] = RenderedBody(
                    stored.channel, stored.subject, stored.text, stored.html
                )
            list_ids = {r.list_id for r in rows if r.list_id is not None}
            lists = {
                m.id: m
                for m in await session.scalars(
                    select(MailingList).where(MailingList.id.in_(list_ids))
                )
            }
        outgoing: list[tuple[Channel, Outgoing]] = []
        suppressed: dict[int, str] = {}
        for row in rows:
            subscriber = subscribers.get(row.subscriber_id or -1)
            if subscriber is None or subscriber.status is not SubscriberStatus.ACTIVE:
                state = subscriber.status.value if subscriber else "gone"
                suppressed[row.id] = f"recipient {state}"
                continue
            case = None
            if row.kind is MessageKind.ALERT:
                found = updates.get(row.update_id or -1)
                if found is None or not found[1].published:
                    suppressed[row.id] = "update removed or case unpublished"
                    continue
                update_row, case = found
                body = self._alert_body(update_row, case, row.channel, subscriber.locale)
            else:
                cached = self._bodies.get(row.body_id or -1)
                if cached is None:
                    suppressed[row.id] = "digest body missing"
                    continue
                body = cached
            mailing_list = lists.get(row.list_id or -1)
            outgoing.append(
                (row.channel, self._outgoing(row, subscriber, body, case, mailing_list))
            )
        return outgoing, suppressed

    def _outgoing(
        self,
        row: OutboxMessage,
        subscriber: Subscriber,
        body: RenderedBody,
        case: Case | None,
        mailing_list: MailingList | None,
    ) -> Outgoing:
        if row.channel is Channel.TELEGRAM:
            assert subscriber.telegram_chat_id is not None
            final = self.renderer.personalise(body, None)
            return Outgoing(
                row.id,
                TelegramContent(
                    subscriber.telegram_chat_id, tuple(split_telegram_html(final.text))
                ),
            )
        assert subscriber.email is not None
        unsubscribe = self.links.unsubscribe_url(subscriber.id, subscriber.token_version)
        personal = Personal(
            name=subscriber.name,
            email=subscriber.email,
            reason=_reason(subscriber, row, case),
            unsubscribe_url=unsubscribe,
            preferences_url=self.links.preferences_url(subscriber.id, subscriber.token_version),
        )
        text_footer, html_footer = self.renderer.footers(personal)
        shared = self._shared.get(body.digest)
        if shared is None:
            if len(self._shared) > 1000:
                self._shared.clear()
            shared = self._shared[body.digest] = shared_body(body)
        domain = self.settings.mail_domain
        stamp = int(row.created_at.timestamp())
        if mailing_list is not None:
            list_id = f"{mailing_list.name} <{mailing_list.slug}.{domain}>"
        else:
            list_id = f"notifier alerts <alerts.{domain}>"
        return Outgoing(
            row.id,
            EmailContent(
                to_address=subscriber.email,
                to_name=subscriber.name,
                subject=body.subject,
                body=shared,
                text_footer=text_footer,
                html_footer=html_footer,
                message_id=f"<notifier.{row.id}.{stamp}@{domain}>",
                list_id=list_id,
                unsubscribe_url=unsubscribe,
            ),
        )

    async def _record(
        self,
        results: Sequence[Result],
        suppressed: Mapping[int, str],
        claimed: Mapping[int, Claimed],
        now: datetime,
        report: DeliverReport,
    ) -> None:
        max_age = timedelta(seconds=self.settings.max_message_age)
        async with self.store.transaction() as session:
            sent = [r.outbox_id for r in results if r.outcome is Outcome.SENT]
            await mark_sent(session, sent, now=now)
            report.sent += len(sent)
            by_reason: dict[str, list[int]] = defaultdict(list)
            for outbox_id, reason in suppressed.items():
                by_reason[reason].append(outbox_id)
            for reason, ids in by_reason.items():
                await mark_final(session, ids, OutboxStatus.SUPPRESSED, reason)
                report.suppressed += len(ids)
            for result in results:
                if result.outcome is Outcome.SENT:
                    continue
                error = result.error or result.outcome.value
                report.errors.append(f"#{result.outbox_id}: {error}")
                if result.outcome is Outcome.TEMPORARY:
                    attempts = claimed[result.outbox_id].attempts
                    if now - claimed[result.outbox_id].queued_at > max_age:
                        await mark_final(
                            session, [result.outbox_id], OutboxStatus.FAILED,
                            f"gave up after {attempts} attempts: {error}",
                        )  # fmt: skip
                        report.failed += 1
                        continue
                    delay = result.retry_after or backoff(
                        attempts,
                        base=self.settings.retry_base_delay,
                        cap=self.settings.retry_max_delay,
                    )
                    await mark_retry(
                        session, result.outbox_id, at=now + timedelta(seconds=delay), error=error
                    )
                    report.retried += 1
                else:
                    await mark_final(session, [result.outbox_id], OutboxStatus.FAILED, error)
                    report.failed += 1
                    if result.outcome is Outcome.BOUNCED:
                        await session.execute(
                            update(Subscriber)
                            .where(
                                Subscriber.id
                                == select(OutboxMessage.subscriber_id)
                                .where(OutboxMessage.id == result.outbox_id)
                                .scalar_subquery()
                            )
                            .values(status=SubscriberStatus.BOUNCED)
                        )

    async def _save_health(self, now: datetime) -> None:
        """Write each sender's state where `notifier status` can read it, when it changed."""
        changed = []
        for sender in self.senders.values():
            snapshot = (sender.state.paused_until, sender.state.note)
            if self._health.get(sender.name) != snapshot:
                self._health[sender.name] = snapshot
                changed.append(sender)
        if not changed:
            return
        async with self.store.transaction() as session:
            for sender in changed:
                paused = sender.state.paused_until
                row = {
                    "name": sender.name,
                    "paused_until": datetime.fromtimestamp(paused, UTC) if paused else None,
                    "note": sender.state.note,
                    "updated_at": now,
                }
                stmt = insert_for(session, ChannelHealth.__table__)  # type: ignore[arg-type]
                await session.execute(
                    stmt.values(**row).on_conflict_do_update(
                        index_elements=["name"],
                        set_={k: v for k, v in row.items() if k != "name"},
                    )
                )

    async def drain(
        self, *, stop: asyncio.Event | None = None, now: datetime | None = None
    ) -> DeliverReport:
        """Deliver until nothing is due (or `stop` is set between batches). `now` fixes the
        clock (tests); by default each batch reads the time."""
        total = DeliverReport()
        while stop is None or not stop.is_set():
            report = await self.deliver_batch(now=now)
            total.add(report)
            if report.claimed == 0 or report.sent + report.failed + report.suppressed == 0:
                break
        return total

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()
