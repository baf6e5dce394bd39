"""The console's Updates page, below the page: a draft's alert previewed as each channel renders
it; who it would reach, counted so that it equals what the watcher then queues; what a
withdrawal would stop; a real test send to oneself; editors write, coordinators only read."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from notifier import limits
from notifier.app import (
    UpdateDraft,
    preview_update,
    update_audience,
    withdraw_preview,
)
from notifier.app import test_send as send_test
from notifier.config import Settings
from notifier.domain import Cadence, Channel, MessageKind, Role, Scope
from notifier.domain.actors import Actor
from notifier.domain.subscriber_specs import FollowSpec
from notifier.errors import ForbiddenError, InputError
from notifier.senders import email_sender
from notifier.service import Pipeline, pipeline
from notifier.store.audit import entries
from notifier.store.models import OutboxMessage, Subscriber, utcnow
from notifier.store.updates import get_update, withdraw_update
from notifier.watch import watch_once
from tests.helpers import CHAIN, KZ, WEEKLY_KZ, maildir, new_update, seed, subscribe, text_of

EDITOR = Actor.console_user("ed@example.org", Role.EDITOR, frozenset())
COORDINATOR = Actor.console_user("co@example.org", Role.COORDINATOR, frozenset({CHAIN}))
CASE = "kashkumbaev"

DRAFT = UpdateDraft(
    title="Appeal hearing moved to 9 May",
    day=date(2024, 5, 2),
    body="The court moved the hearing.\n\nPlease keep praying.",
    source="Forum 18",
    url="https://www.forum18.org/archive.php",
    urgent=True,
)


async def alerts_by_channel(p: Pipeline, update_id: int) -> dict[str, int]:
    async with p.store.read() as session:
        rows = await session.execute(
            select(OutboxMessage.channel, func.count())
            .where(OutboxMessage.update_id == update_id, OutboxMessage.kind == MessageKind.ALERT)
            .group_by(OutboxMessage.channel)
        )
        return {c.value: 0 for c in Channel} | {Channel(c).value: n for c, n in rows}


async def people(p: Pipeline) -> None:
    """Followers of every kind: instant and weekly, email and Telegram, one pausing, one
    following the case by name and the country both; the example chain is weekly."""
    daily_tg = FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY, Channel.TELEGRAM)
    instant_tg = FollowSpec(Scope.COUNTRY, "KZ", Cadence.INSTANT, Channel.TELEGRAM)
    by_name = FollowSpec(Scope.CASE, "bakhytzhan-kashkumbayev", Cadence.INSTANT, Channel.EMAIL)
    everything = FollowSpec(Scope.ALL, None, Cadence.WEEKLY, Channel.EMAIL)
    await subscribe(p, "instant@example.org", KZ, by_name)
    await subscribe(p, "weekly@example.org", WEEKLY_KZ)
    await subscribe(p, "all@example.org", everything)
    await subscribe(p, "both@example.org", KZ, daily_tg, chat=501)
    await subscribe(p, "tg@example.org", instant_tg, chat=502)
    await subscribe(p, "paused@example.org", KZ)
    async with p.store.transaction() as session:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.email == "paused@example.org")
            .values(paused_until=utcnow() + timedelta(days=3))
        )


@pytest.mark.parametrize("urgent", [False, True])
async def test_the_audience_is_what_the_watcher_then_queues(
    settings: Settings, urgent: bool
) -> None:
    async with pipeline(settings) as p:
        await seed(p)
        await people(p)
        audience = await update_audience(p.store, EDITOR, CASE, urgent=urgent)
        update_id = await new_update(p, urgent=urgent)
        await watch_once(p.store)
        queued = await alerts_by_channel(p, update_id)
    assert audience.alerts == queued
    if urgent:  # everyone reachable: digest readers and the weekly chain's members too
        assert audience.alerts["email"] > 5
        assert [(x.slug, x.by) for x in audience.lists] == [(CHAIN, "alert")]
    else:  # instant@ (once, for two follows) and both@ by email, tg@ on Telegram
        assert audience.alerts == {"email": 2, "telegram": 1}
        assert [(x.slug, x.by) for x in audience.lists] == [(CHAIN, "digest")]
    assert audience.follows["instant"] == {"email": 2, "telegram": 1}
    assert audience.follows["daily"] == {"email": 0, "telegram": 1}
    assert audience.follows["weekly"] == {"email": 2, "telegram": 0}
    assert audience.lists[0].members["email"] >= 4
    assert audience.alert_total == sum(queued.values())


async def test_a_coordinator_sees_counts_and_only_their_lists(settings: Settings) -> None:
    other = Actor.console_user("x@example.org", Role.COORDINATOR, frozenset({"another-list"}))
    async with pipeline(settings) as p:
        await seed(p)
        mine = await update_audience(p.store, COORDINATOR, CASE, urgent=True)
        theirs = await update_audience(p.store, other, CASE, urgent=True)
    assert [x.slug for x in mine.lists] == [CHAIN]
    assert theirs.lists == []
    assert theirs.alerts == mine.alerts


async def test_a_draft_previewed_as_each_channel_renders_it(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p)
        preview = await preview_update(p.store, settings, COORDINATOR, CASE, DRAFT)
        async with p.store.read() as session:
            assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert DRAFT.title in preview.subject
    assert "The court moved the hearing." in preview.email_text
    assert "Please keep praying." in preview.email_html
    assert 'href="https://www.forum18.org/archive.php"' in preview.email_html
    assert "<html" in preview.email_html.lower()
    assert DRAFT.title in preview.telegram_html
    assert "<b>" in preview.telegram_html or "<a " in preview.telegram_html
    assert preview.telegram_parts
    assert all(len(part) <= 4096 for part in preview.telegram_parts)
    assert "".join(preview.telegram_parts).count(DRAFT.title) == 1


async def test_a_bad_draft_names_every_field(settings: Settings) -> None:
    bad = UpdateDraft(
        title="Hearing\x00moved",
        day="2024-13-40",
        body="x" * (limits.BODY + 1),
        source="Forum 18",
        url="ftp://example.org/news",
    )
    far = UpdateDraft(title="", day=date(1850, 1, 1), url="https://example.org/")
    async with pipeline(settings) as p:
        await seed(p)
        with pytest.raises(InputError) as refused:
            await preview_update(p.store, settings, EDITOR, CASE, bad)
        with pytest.raises(InputError) as early:
            await preview_update(p.store, settings, EDITOR, CASE, far)
    named = {x.field: x.reason for x in refused.value.problems}
    assert set(named) == {"title", "date", "body", "url"}
    assert "control character" in named["title"]
    assert "10000" in named["body"].replace(",", "")
    assert {x.field for x in early.value.problems} == {"title", "date", "source"}
    assert all(x.where == "update form" for x in refused.value.problems)


async def test_withdraw_preview_shows_what_would_stop(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p)
        await people(p)
        update_id = await new_update(p)
        await watch_once(p.store)
        queued = await alerts_by_channel(p, update_id)
        shown = await withdraw_preview(p.store, COORDINATOR, update_id)
        assert shown.alerts == queued
        assert shown.digests == {"email": 0, "telegram": 0}
        assert not shown.already
        assert shown.sent == 0
        async with p.store.transaction() as session:
            stopped = await withdraw_update(session, await get_update(session, update_id))
        assert stopped.alerts == sum(shown.alerts.values())
        after = await withdraw_preview(p.store, EDITOR, update_id)
    assert after.already
    assert after.alerts == {"email": 0, "telegram": 0}


async def test_a_test_send_arrives_in_the_maildir_and_is_audited(settings: Settings) -> None:
    sender = email_sender(settings)
    async with pipeline(settings) as p:
        await seed(p)
        sent = await send_test(
            p.store, settings, EDITOR, CASE, DRAFT, to_email="Ed@Example.org", sender=sender
        )
        with pytest.raises(ForbiddenError):
            await send_test(
                p.store, settings, EDITOR, CASE, DRAFT, to_email="else@example.org", sender=sender
            )
        with pytest.raises(ForbiddenError):
            await send_test(
                p.store, settings, COORDINATOR, CASE, DRAFT, to_email="co@example.org",
                sender=sender,
            )  # fmt: skip
        with pytest.raises(InputError) as bad:
            await send_test(
                p.store, settings, EDITOR, CASE, DRAFT, to_email="ed@\x00", sender=sender
            )
        async with p.store.read() as session:
            log = await entries(session)
            assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    await sender.close()
    assert bad.value.problems[0].field == "to_email"
    assert sent.outcome == "sent"
    arrived = maildir(settings)
    assert len(arrived) == 1
    assert arrived[0]["To"].addresses[0].addr_spec == "ed@example.org"
    assert str(arrived[0]["Subject"]) == sent.subject
    assert sent.subject.startswith("[Test] ")
    assert DRAFT.title in sent.subject
    assert "The court moved the hearing." in text_of(arrived[0])
    assert [(e.actor, e.action, e.target) for e in log] == [
        ("user:ed@example.org", "update.test-send", "bakhytzhan-kashkumbayev")
    ]
    assert log[0].summary["after"]["to"] == "ed@example.org"
