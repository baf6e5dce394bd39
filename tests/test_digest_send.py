"""A list's digest sent by hand (`digest send`) covers up to the moment it is built, and the
scheduled digest after it still comes on its usual day with what came since, labelled from that
moment: nothing held back a week, nothing sent twice, no label ending in the future."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from notifier.config import Settings
from notifier.digests import plan_list_digests, send_list_digest_now
from notifier.domain import Cadence
from notifier.domain.schedule import Schedule, last_due, next_due, parse_schedule
from notifier.render.templates import period_label
from notifier.service import Pipeline, pipeline
from notifier.store.models import Subscriber
from notifier.store.subscribers import get_list
from tests.helpers import CHAIN, maildir, new_update, seed, text_of

CHAIN_NAME = "Kazakhstan prayer chain"
ZONE = "Asia/Almaty"  # the example list: weekly, "mon 07:00" in Almaty
MONDAY_7 = parse_schedule("mon 07:00", Cadence.WEEKLY)
MEMBERS = 4


def local_day(instant: datetime) -> date:
    return instant.astimezone(ZoneInfo(ZONE)).date()


def first_monday_after(instant: datetime, schedule: Schedule = MONDAY_7) -> datetime:
    return next_due(schedule, ZONE, instant)


def digest_subjects(settings: Settings) -> Counter[str]:
    return Counter(str(m["Subject"]) for m in maildir(settings) if CHAIN_NAME in str(m["Subject"]))


def digests_holding(settings: Settings, title: str) -> int:
    return sum(
        1 for m in maildir(settings) if CHAIN_NAME in str(m["Subject"]) and title in text_of(m)
    )


async def seed_in_english(p: Pipeline) -> None:
    """The sample cases and the example chain, every member reading English (its `de` member
    too: this module counts periods; tests/test_locales.py has the chain in its languages)."""
    await seed(p)
    async with p.store.transaction() as session:
        await session.execute(update(Subscriber).values(locale="en"))


async def send_by_hand(p: Pipeline, now: datetime) -> int:
    async with p.store.transaction() as session:
        found = await get_list(session, CHAIN, follows=True)
        report = await send_list_digest_now(session, p.renderer, found, now=now)
    return report.messages


async def test_a_digest_sent_by_hand_ends_now_and_the_next_comes_on_its_day(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed_in_english(p)
        # The list's first Monday digest, built on time (the clock is fixed from here on).
        monday = first_monday_after(datetime.now(UTC))
        await new_update(p, title="Before the first Monday")
        assert (await plan_list_digests(p.store, p.renderer, now=monday)).messages == MEMBERS
        await p.deliverer.drain(now=monday)

        # Wednesday afternoon in Almaty: an administrator sends the digest by hand.
        await new_update(p, title="Sent by hand on Wednesday")
        wednesday = monday + timedelta(days=2, hours=8, minutes=17, seconds=42)
        assert local_day(wednesday).weekday() == 2
        assert await send_by_hand(p, wednesday) == MEMBERS
        await p.deliverer.drain(now=wednesday)
        by_hand = f"{CHAIN_NAME}: 1 update, {period_label(local_day(monday), local_day(wednesday))}"
        assert digest_subjects(settings)[by_hand] == MEMBERS, digest_subjects(settings)

        # News after it waits for the next Monday, not the Monday after that.
        await new_update(p, title="After the hand-sent digest")
        next_monday = last_due(MONDAY_7, ZONE, wednesday + timedelta(days=7))
        assert next_monday == first_monday_after(wednesday)
        sunday = next_monday - timedelta(hours=12)
        assert (await plan_list_digests(p.store, p.renderer, now=sunday)).messages == 0
        report = await plan_list_digests(p.store, p.renderer, now=next_monday)
        assert report.messages == MEMBERS, report.details
        await p.deliverer.drain(now=next_monday)
        scheduled = (
            f"{CHAIN_NAME}: 1 update, {period_label(local_day(wednesday), local_day(next_monday))}"
        )
        assert digest_subjects(settings)[scheduled] == MEMBERS, digest_subjects(settings)

        # The week after: nothing new, nothing sent again.
        week_after = last_due(MONDAY_7, ZONE, next_monday + timedelta(days=7))
        assert (await plan_list_digests(p.store, p.renderer, now=week_after)).messages == 0

    # Each piece of news reached each member once.
    for title in (
        "Before the first Monday",
        "Sent by hand on Wednesday",
        "After the hand-sent digest",
    ):
        assert digests_holding(settings, title) == MEMBERS, title
    assert sum(digest_subjects(settings).values()) == 3 * MEMBERS


async def test_sent_by_hand_twice_the_second_holds_only_what_is_new(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed_in_english(p)
        monday = first_monday_after(datetime.now(UTC))
        await plan_list_digests(p.store, p.renderer, now=monday)  # nothing yet: empty
        await new_update(p, title="First news")
        tuesday = monday + timedelta(days=1)
        assert await send_by_hand(p, tuesday) == MEMBERS
        # Again in the same minute (a double click): nothing more.
        assert await send_by_hand(p, tuesday + timedelta(seconds=20)) == 0
        # Again an hour later with nothing new: nothing.
        assert await send_by_hand(p, tuesday + timedelta(hours=1)) == 0
        await new_update(p, title="Second news")
        thursday = monday + timedelta(days=3)
        assert await send_by_hand(p, thursday) == MEMBERS
        next_monday = first_monday_after(thursday)
        assert (await plan_list_digests(p.store, p.renderer, now=next_monday)).messages == 0
        await p.deliverer.drain(now=next_monday)
    assert digests_holding(settings, "First news") == MEMBERS
    assert digests_holding(settings, "Second news") == MEMBERS
    second = f"{CHAIN_NAME}: 1 update, {period_label(local_day(tuesday), local_day(thursday))}"
    assert digest_subjects(settings)[second] == MEMBERS, digest_subjects(settings)
