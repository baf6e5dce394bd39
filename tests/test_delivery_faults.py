"""Delivery when something is wrong with one message or one side effect: the rest of the batch
goes and is recorded, nothing is claimed and sent again for ever, and a Telegram sender keeps
its bot token to itself for as long as a batch takes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from notifier.config import Settings
from notifier.digests import plan_digests
from notifier.domain import Cadence, OutboxStatus, Scope, Severity
from notifier.service import Pipeline, pipeline
from notifier.store.cases import get_case
from notifier.store.models import ListChat, ListFollow, MailingList, Update
from notifier.watch import watch_once
from tests.fake_telegram import FakeBotApi
from tests.helpers import news, outbox_rows, seed_telegram_followers, with_bot


async def telegram_chain(p: Pipeline, *groups: int) -> None:
    """A weekly Kazakhstan prayer chain, a month old, sent to these Telegram groups."""
    async with p.store.transaction() as session:
        chain = MailingList(
            slug="kz", name="KZ chain", cadence=Cadence.WEEKLY, schedule="mon 07:00",
            time_zone="UTC", channels=["telegram"],
            follows=[ListFollow(scope=Scope.COUNTRY, country="KZ", target="country:KZ")],
            created_at=datetime.now(UTC) - timedelta(days=30),
        )  # fmt: skip
        session.add(chain)
        await session.flush()
        session.add_all(ListChat(list_id=chain.id, chat_id=g, title=str(g)) for g in groups)


async def test_a_group_that_moved_onto_a_chat_already_subscribed_is_recorded(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    """The list's group became a supergroup, and an admin had already subscribed the new
    supergroup too: the digest goes, the old row goes away, and the batch is recorded."""
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111, 222])
        await telegram_chain(p, -555, -1001234)
        await news(p, "Hearing")
        fake_bot_api.migrate(-555, -1001234)
        now = datetime.now(UTC)
        await plan_digests(p.store, p.renderer, now=now)
        await p.deliverer.drain(now=now)
        assert {r.status for r in await outbox_rows(p)} == {OutboxStatus.SENT}
        async with p.store.read() as session:
            chats = list(await session.scalars(select(ListChat.chat_id)))
        assert chats == [-1001234]
        sent = len(fake_bot_api.sent)
        later = now + timedelta(seconds=settings.lease_seconds + 1)
        assert (await p.deliverer.drain(now=later)).claimed == 0
        assert len(fake_bot_api.sent) == sent  # nothing sent twice


async def test_a_message_that_cannot_be_composed_fails_alone(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    """A link longer than a Telegram message (written straight into the store: the CLI and
    the API refuse it) cannot be split into parts. That alert fails, with why; the other news
    goes."""
    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        if p.store.dialect != "sqlite":
            pytest.skip("PostgreSQL refuses the over-long link itself")
        await seed_telegram_followers(p, [111, 222])
        await news(p, "Ordinary news")
        async with p.store.transaction() as session:
            case = await get_case(session, "kashkumbaev")
            session.add(
                Update(
                    case_id=case.id, key="poison", event_date=date(2024, 5, 2), title="Poison",
                    body="x", source_name="Court",
                    source_url="https://example.org/?q=" + "a" * 4100, severity=Severity.NORMAL,
                )
            )  # fmt: skip
        await watch_once(p.store)
        report = await p.deliverer.drain()
        assert (report.sent, report.failed) == (2, 2)
        failed = [r for r in await outbox_rows(p) if r.status is OutboxStatus.FAILED]
        assert len(failed) == 2
        assert all((r.last_error or "").startswith("could not be composed: ") for r in failed)
        assert (await p.deliverer.drain()).claimed == 0


async def test_the_telegram_lease_is_kept_while_a_long_batch_sends(
    settings: Settings, fake_bot_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four messages to one chat take over three seconds (one a second per chat). With a
    lease of two seconds, renewed as the batch sends, a second process never takes the bot."""
    import notifier.delivery.deliverer as deliverer

    monkeypatch.setattr(deliverer, "LEASE_SECONDS", 2)
    configured = with_bot(settings, fake_bot_api)
    async with pipeline(configured) as first, pipeline(configured) as second:
        await seed_telegram_followers(first, [111])
        for i in range(4):
            await news(first, f"News {i}")
        sending = asyncio.create_task(first.deliverer.drain())
        await asyncio.sleep(2.5)
        await news(first, "Late news")
        assert not sending.done()
        assert (await second.deliverer.drain()).claimed == 0
        assert (await sending).sent == 4
        assert (await first.deliverer.drain()).sent == 1  # the late news, by the lease holder
        queued = await outbox_rows(first)
    assert {r.status for r in queued} == {OutboxStatus.SENT}
    assert max(r.attempts for r in queued) == 1


async def test_a_digest_queued_for_a_group_follows_it_to_its_new_id(
    settings: Settings, fake_bot_api: FakeBotApi
) -> None:
    """The bot hears that a group became a supergroup after its list's digest was queued: the
    digest goes to the new id (it was dropped as 'group unsubscribed')."""
    from notifier.store.chats import move_group

    async with pipeline(with_bot(settings, fake_bot_api)) as p:
        await seed_telegram_followers(p, [111])
        await telegram_chain(p, -555)
        await news(p, "Hearing")
        now = datetime.now(UTC)
        await plan_digests(p.store, p.renderer, now=now)
        async with p.store.transaction() as session:
            assert await move_group(session, -555, -1001234) == 1
        await p.deliverer.drain(now=now)
        assert {r.status for r in await outbox_rows(p)} == {OutboxStatus.SENT}
        assert any(m.chat_id == -1001234 for m in fake_bot_api.sent)
