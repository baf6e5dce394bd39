"""People change how often and when their news comes: no digest repeats what they already had,
and none is built for a period that ended before the one they last got."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from notifier.config import Settings
from notifier.digests import plan_digests
from notifier.domain import Cadence, Scope
from notifier.domain.subscriber_specs import FollowSpec
from notifier.service import Pipeline, pipeline
from notifier.store.models import Subscription
from notifier.store.preferences import set_digest_schedule
from notifier.store.subscribers import get_subscriber
from notifier.watch import watch_once
from tests.helpers import maildir, new_update, next_daily, next_weekly, seed, subscribe, text_of


async def set_cadence(p: Pipeline, email: str, cadence: Cadence) -> None:
    """What the preference page, the bot's /cadence and an import do: change the follows."""
    async with p.store.transaction() as session:
        subscriber = await get_subscriber(session, email)
        for subscription in await session.scalars(
            select(Subscription).where(Subscription.subscriber_id == subscriber.id)
        ):
            subscription.cadence = cadence


def digests_of(settings: Settings) -> list[str]:
    return [text_of(m) for m in maildir(settings) if "digest" in str(m["Subject"])]


async def test_moving_between_daily_and_weekly_sends_nothing_twice(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "d@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY))
        await new_update(p, title="Old news")
        day1 = next_daily(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=day1)).messages == 1
        await new_update(p, title="Not yet in a digest")

        await set_cadence(p, "d@example.org", Cadence.WEEKLY)
        week = next_weekly(day1)
        assert (await plan_digests(p.store, p.renderer, now=week)).messages == 1
        await new_update(p, title="Newer news")

        await set_cadence(p, "d@example.org", Cadence.DAILY)  # back: its old cursor is stale
        assert (await plan_digests(p.store, p.renderer, now=next_daily(week))).messages == 1
        await p.deliverer.drain(now=next_daily(week))
    news = ("Old news", "Not yet in a digest", "Newer news")
    held = sorted(tuple(n for n in news if n in text) for text in digests_of(settings))
    # Each piece of news in exactly one digest: the daily, the weekly, the daily again.
    assert held == [("Newer news",), ("Not yet in a digest",), ("Old news",)]


async def test_from_instant_to_a_digest_repeats_no_alert(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "i@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.INSTANT))
        await new_update(p, title="Alerted at once")
        assert (await watch_once(p.store)).alerts == 1
        await set_cadence(p, "i@example.org", Cadence.DAILY)
        day1 = next_daily(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=day1)).messages == 0
        await new_update(p, title="After the change")
        assert (await plan_digests(p.store, p.renderer, now=next_daily(day1))).messages == 1


async def test_a_schedule_moved_earlier_builds_no_digest_for_a_past_period(
    settings: Settings,
) -> None:
    """The 07:00 digest went; at 10:00 the reader moves it to 23:00. The last 23:00 was
    yesterday, before the digest just built: the next one is tonight's, not one at once."""
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "s@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY))
        await new_update(p, title="Before seven")
        seven = next_daily(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=seven)).messages == 1
        await new_update(p, title="After seven")
        async with p.store.transaction() as session:
            subscriber = await get_subscriber(session, "s@example.org")
            await set_digest_schedule(session, subscriber.id, time_zone="UTC", day=0, at="23:00")
        ten = seven + timedelta(hours=3)
        assert (await plan_digests(p.store, p.renderer, now=ten)).messages == 0
        tonight = seven.replace(hour=23, minute=1)
        assert (await plan_digests(p.store, p.renderer, now=tonight)).messages == 1


async def test_following_again_starts_afresh_not_from_a_cursor_left_long_ago(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "f@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY))
        await new_update(p, title="While following")
        day1 = next_daily(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=day1)).messages == 1
        async with p.store.transaction() as session:  # unfollow
            subscriber = await get_subscriber(session, "f@example.org")
            for subscription in await session.scalars(
                select(Subscription).where(Subscription.subscriber_id == subscriber.id)
            ):
                await session.delete(subscription)
        await new_update(p, title="While not following")
        await subscribe(p, "f@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY))
        await new_update(p, title="Since following again")
        assert (await plan_digests(p.store, p.renderer, now=next_daily(day1))).messages == 1
        await p.deliverer.drain(now=next_daily(day1))
    latest = [t for t in digests_of(settings) if "Since following again" in t]
    assert len(latest) == 1
    assert "While not following" not in latest[0]


async def test_a_cadence_change_and_a_new_follow_saved_together_repeat_nothing(
    settings: Settings,
) -> None:
    """The preference page's 'follow' form: Kazakhstan (followed, weekly) and a new case, both
    daily, saved at once. A daily cursor left from long ago must not win over the one carried
    from the weekly digests."""
    from notifier.domain import Channel
    from notifier.store.cases import get_case
    from notifier.store.preferences import follow_targets

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "d@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY))
        await new_update(p, title="Old news")
        day1 = next_daily(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=day1)).messages == 1
        await set_cadence(p, "d@example.org", Cadence.WEEKLY)  # the daily cursor stays behind
        await new_update(p, title="Weekly news")
        week = next_weekly(day1)
        assert (await plan_digests(p.store, p.renderer, now=week)).messages == 1
        async with p.store.transaction() as session:
            subscriber = await get_subscriber(session, "d@example.org")
            case = await get_case(session, "makhset-djabbarbergenov")
            follows = [(Scope.COUNTRY, "KZ", None), (Scope.CASE, None, case)]
            follow_targets(subscriber, follows, cadence=Cadence.DAILY, channels=[Channel.EMAIL])
        await new_update(p, title="Fresh news")
        later = next_daily(week)
        assert (await plan_digests(p.store, p.renderer, now=later)).messages == 1
        await p.deliverer.drain(now=later)
    [last] = [t for t in digests_of(settings) if "Fresh news" in t]
    assert "Old news" not in last
    assert "Weekly news" not in last


async def test_from_instant_before_the_watcher_ran_the_update_comes_in_the_digest(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "i@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.INSTANT))
        await new_update(p, title="Entered, not yet watched")
        await set_cadence(p, "i@example.org", Cadence.DAILY)  # moments later
        assert (await watch_once(p.store)).alerts == 0  # no longer instant
        day1 = next_daily(datetime.now(UTC))
        assert (await plan_digests(p.store, p.renderer, now=day1)).messages == 1


async def test_a_newcomer_given_an_erased_subscribers_id_starts_afresh(
    settings: Settings,
) -> None:
    """SQLite may give an erased subscriber's id to the next one; their digest cursors went
    with them, so the newcomer's first digest holds only news from when they joined."""
    from notifier.domain.subscriber_specs import SubscriberSpec
    from notifier.store.subscribers import import_subscribers, remove_subscriber

    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "gone@example.org", FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY))
        day1 = next_daily(datetime.now(UTC))
        await plan_digests(p.store, p.renderer, now=day1)  # an empty digest: a cursor saved
        async with p.store.transaction() as session:
            gone = await get_subscriber(session, "gone@example.org")
            await remove_subscriber(session, gone, erase=True)
        await new_update(p, title="Before the newcomer came")
        async with p.store.transaction() as session:
            follows = [FollowSpec(Scope.COUNTRY, "KZ", Cadence.DAILY)]
            spec = SubscriberSpec(where="t", email="new@example.org", follows=follows)
            await import_subscribers(session, [spec], p.settings)
        await new_update(p, title="After the newcomer came")
        later = next_daily(day1)
        await plan_digests(p.store, p.renderer, now=later)
        await p.deliverer.drain(now=later)
    [digest] = digests_of(settings)
    assert "After the newcomer came" in digest
    assert "Before the newcomer came" not in digest
