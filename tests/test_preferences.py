"""The preference centre beyond cadence and leaving: follow more (by any spelling), switch the
channel news comes by, pause for a while (honoured by matching, digests and delivery), and the
web copy of a digest linked from the digest email. Real app through httpx; real Maildir."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, select, update

from notifier.config import Settings
from notifier.countries import resolve_country
from notifier.digests import plan_digests
from notifier.digests.personal import PersonalGroup, personal_groups
from notifier.domain import Cadence, Channel, Consent, OutboxStatus
from notifier.domain.schedule import Schedule, last_due
from notifier.errors import NotFoundError
from notifier.links import PREFERENCES, Links
from notifier.service import Pipeline, pipeline
from notifier.store.models import Body, Case, DigestCursor, OutboxMessage, Subscriber, Subscription
from notifier.store.preferences import set_pause
from notifier.watch import watch_once
from notifier.web.app import create_app
from tests.helpers import KZ, WEEKLY_KZ, maildir, new_update, seed, subscribe, text_of


class Web:
    """The app, a browser-like client, and Anna's preference page."""

    def __init__(self, p: Pipeline, client: httpx.AsyncClient, settings: Settings) -> None:
        self.p = p
        self.client = client
        self.url = "/preferences/" + Links.from_settings(settings).token(PREFERENCES, 1, 1)

    async def show(self) -> httpx.Response:
        return await self.client.get(self.url)

    async def post(self, **fields: str) -> httpx.Response:
        if not self.client.cookies.get("notifier_csrf"):
            await self.show()
        csrf = self.client.cookies.get("notifier_csrf") or ""
        return await self.client.post(self.url, data={"csrf": csrf, **fields})

    async def follows(self) -> list[tuple[str, str, str]]:
        async with self.p.store.read() as session:
            rows = await session.execute(
                select(Subscription.target, Subscription.cadence, Subscription.channel).order_by(
                    Subscription.target, Subscription.channel
                )
            )
            return [(t, c.value, ch.value) for t, c, ch in rows]


@pytest.fixture
async def web(settings: Settings) -> AsyncIterator[Web]:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ, name="Anna")
        async with p.store.transaction() as session:
            # Links here are signed for version 1 (a new subscriber's is random).
            await session.execute(update(Subscriber).values(token_version=1))
        app = create_app(settings, p.store, scheduler_alive=lambda: True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            yield Web(p, client, settings)


async def case_target(p: Pipeline, slug: str) -> str:
    from notifier.store.cases import get_case

    async with p.store.read() as session:
        return f"case:{(await get_case(session, slug)).id}"


async def test_follow_more_by_any_spelling_with_a_cadence(web: Web) -> None:
    page = await web.show()
    assert '<datalist id="known">' in page.text
    assert '<option value="Bakhytzhan Kashkumbayev">' in page.text
    saved = await web.post(action="follow", value="Kashkumbaev, kz", cadence="daily")
    assert saved.status_code == 200
    assert "Saved: you now follow those." in saved.text
    case = await case_target(web.p, "kashkumbaev")
    # The new follow is daily; Kazakhstan, already followed, takes the cadence asked for.
    assert await web.follows() == [(case, "daily", "email"), ("country:KZ", "daily", "email")]
    assert "Bakhytzhan Kashkumbayev — daily by email" in saved.text


async def test_follow_problems_are_named_and_the_text_is_kept(web: Web) -> None:
    before = await web.follows()
    unknown = await web.post(action="follow", value="Narnia", cadence="weekly")
    assert unknown.status_code == 400
    assert "We do not know a country or person called “Narnia”." in unknown.text
    assert 'value="Narnia"' in unknown.text  # kept for correcting
    empty = await web.post(action="follow", value=" , ", cadence="weekly")
    assert "Say which countries or people you want news of." in empty.text
    hourly = await web.post(action="follow", value="Kazakhstan, Kashkumbaev", cadence="hourly")
    assert "How often: choose one of the options." in hourly.text
    assert 'value="Kazakhstan, Kashkumbaev"' in hourly.text  # nothing saved: all of it kept
    too_many = await web.post(action="follow", value=",".join(["kz"] * 21), cadence="weekly")
    assert "At most 20 countries and people at a time." in too_many.text
    forged = await web.client.post(
        web.url, data={"csrf": "forged", "action": "follow", "value": "Kashkumbaev"}
    )
    assert forged.status_code == 403
    assert await web.follows() == before  # nothing changed by any of them


async def test_switch_channel_keeps_each_follows_cadence(web: Web) -> None:
    only_email = await web.show()
    assert "Where news comes" not in only_email.text  # one way to reach Anna: nothing to choose
    refused = await web.post(action="channel", value="telegram")
    assert refused.status_code == 400  # no chat linked
    async with web.p.store.transaction() as session:
        await session.execute(update(Subscriber).values(telegram_chat_id=4242))
    await web.post(action="follow", value="Kashkumbaev", cadence="weekly")
    case = await case_target(web.p, "kashkumbaev")
    page = await web.show()
    assert "Where news comes" in page.text
    assert 'value="email" checked' in page.text

    both = await web.post(action="channel", value="both")
    assert "Saved: your news now comes by email and Telegram." in both.text
    assert await web.follows() == [
        (case, "weekly", "email"),
        (case, "weekly", "telegram"),
        ("country:KZ", "instant", "email"),
        ("country:KZ", "instant", "telegram"),
    ]
    await web.post(action="channel", value="telegram")
    assert await web.follows() == [
        (case, "weekly", "telegram"),
        ("country:KZ", "instant", "telegram"),
    ]
    # New follows go where the news goes now.
    await web.post(action="follow", value="Djabbarbergenov", cadence="instant")
    other = await case_target(web.p, "makhset-djabbarbergenov")
    assert (other, "instant", "telegram") in await web.follows()
    assert (await web.post(action="channel", value="pigeon")).status_code == 400


async def test_pause_in_the_page_then_resume(web: Web) -> None:
    paused = await web.post(action="pause", value="14")
    assert "Paused for two weeks: nothing is sent to you until then." in paused.text
    assert "Paused until" in paused.text
    assert "Resume now" in paused.text
    async with web.p.store.read() as session:
        until = await session.scalar(select(Subscriber.paused_until))
    assert until is not None
    assert timedelta(days=13, hours=23) < until - datetime.now(UTC) <= timedelta(days=14)
    await new_update(web.p, title="While away")
    assert (await watch_once(web.p.store)).alerts == 0
    assert (await web.post(action="pause", value="3")).status_code == 400  # not an offered choice
    resumed = await web.post(action="resume")
    assert "Welcome back" in resumed.text
    assert "Paused until" not in resumed.text
    await new_update(web.p, title="After the pause")
    assert (await watch_once(web.p.store)).alerts == 1


async def test_a_pause_suppresses_queued_alerts_and_digests_cover_it_afterwards(
    settings: Settings,
) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await subscribe(p, "weekly@example.org", WEEKLY_KZ)
        await new_update(p, title="Queued before the pause")
        assert (await watch_once(p.store)).alerts == 1
        start = datetime.now(UTC)
        back = start + timedelta(days=30)
        async with p.store.transaction() as session:
            await session.execute(update(Subscriber).values(paused_until=back))
        # Queued before the pause, delivered during it: not sent.
        report = await p.deliverer.drain()
        assert (report.sent, report.suppressed) == (0, 1)
        async with p.store.read() as session:
            [queued] = list(await session.scalars(select(OutboxMessage)))
        assert queued.status is OutboxStatus.SUPPRESSED
        assert queued.last_error == "recipient pausing"
        await new_update(p, title="Sentenced while away", case="makhset-djabbarbergenov")
        schedule = Schedule(datetime.strptime("07:00", "%H:%M").time(), 0)
        during = last_due(schedule, "UTC", start + timedelta(days=14)) + timedelta(minutes=1)
        built = await plan_digests(p.store, p.renderer, now=during)
        assert built.messages == 0  # the weekly reader is paused: no digest, cursor not moved
        async with p.store.read() as session:
            assert list(await session.scalars(select(DigestCursor))) == []
        async with p.store.transaction() as session:
            await set_pause(session, 2, None)  # the weekly reader comes back
        after = last_due(schedule, "UTC", start + timedelta(days=21)) + timedelta(minutes=1)
        built = await plan_digests(p.store, p.renderer, now=after)
        assert built.messages == 1
        await p.deliverer.drain(now=after)
        [digest] = maildir(settings)
        assert digest["To"].addresses[0].addr_spec == "weekly@example.org"
        body = text_of(digest)
        assert "Queued before the pause" in body
        assert "Sentenced while away" in body  # the first digest after the pause covers it


async def test_each_digest_email_links_to_its_web_copy(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "weekly@example.org", WEEKLY_KZ, name="Wendy")
        await new_update(p, title="Appeal hearing set")
        now = datetime.now(UTC) + timedelta(days=8)
        await plan_digests(p.store, p.renderer, now=now)
        await p.deliverer.drain(now=now)
        [digest] = maildir(settings)
        text = text_of(digest)
        found = re.search(r"Read this digest in your browser: (\S+)", text)
        assert found is not None
        url = found.group(1)
        html = digest.get_body(("html",))
        assert html is not None
        assert f'href="{url}"' in html.get_content()
        app = create_app(settings, p.store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            copy = await client.get(url)
            assert copy.status_code == 200
            assert "Appeal hearing set" in copy.text
            assert "Your weekly digest" in copy.text
            # The shared body only: nobody's address, name or personal links.
            for personal in ("weekly@example.org", "Wendy", "/unsubscribe/", "/preferences/"):
                assert personal not in copy.text
            assert "default-src 'none'" in copy.headers["content-security-policy"]
            assert copy.headers["x-robots-tag"] == "noindex, nofollow"
            token = url.rsplit("/", 1)[1]
            links = Links.from_settings(settings)
            body_id = links.verify_digest(token)
            async with p.store.transaction() as session:
                chat_body = Body(digest="t" * 64, channel=Channel.TELEGRAM, text="<b>hi</b>")
                session.add(chat_body)
                await session.flush()
                telegram = links.digest_url(chat_body.id).rsplit("/", 1)[1]
            other_purpose = links.token(PREFERENCES, body_id, 1)
            forged = [token[:-2] + "xx", f"{body_id}.forged", telegram, other_purpose]
            for bad in forged:
                refused = await client.get(f"/digests/{bad}")
                assert refused.status_code == 404
                assert "This link is not valid" in refused.text
            async with p.store.transaction() as session:
                await session.execute(update(OutboxMessage).values(body_id=None))
                await session.execute(delete(Body))
            gone = await client.get(url)
            assert gone.status_code == 410
            assert "no longer kept" in gone.text


async def test_alerts_carry_no_web_copy_link(settings: Settings) -> None:
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        await p.deliverer.drain()
        [alert] = maildir(settings)
        assert "in your browser" not in text_of(alert)


async def test_who_left_may_subscribe_again_but_a_bounced_address_may_not(web: Web) -> None:
    from notifier.domain import SubscriberStatus

    left = await web.post(action="leave_all")
    assert "Subscribe again" in left.text
    back = await web.post(action="resubscribe")
    assert "Welcome back: you are subscribed again." in back.text
    async with web.p.store.transaction() as session:
        assert await session.scalar(select(Subscriber.status)) is SubscriberStatus.ACTIVE
        # Her own choice, from her own signed link: the consent record says so.
        assert await session.scalar(select(Subscriber.consent)) is Consent.PREFERENCES
        assert await session.scalar(select(Subscriber.confirmed_at)) is not None
        await session.execute(update(Subscriber).values(status=SubscriberStatus.BOUNCED))
    bounced = await web.show()
    assert "could not be delivered" in bounced.text
    assert "Subscribe again" not in bounced.text
    refused = await web.post(action="resubscribe")
    assert refused.status_code == 400
    assert "Only an unsubscribed address can subscribe again here." in refused.text
    async with web.p.store.read() as session:
        assert await session.scalar(select(Subscriber.status)) is SubscriberStatus.BOUNCED


async def both_channels(web: Web) -> None:
    """Anna links a Telegram chat and takes her news by email and in Telegram."""
    async with web.p.store.transaction() as session:
        await session.execute(update(Subscriber).values(telegram_chat_id=4242))
    await web.post(action="channel", value="both")


@pytest.mark.parametrize("how", ["bounce", "one-click"])
async def test_a_stopped_address_stops_email_only(web: Web, settings: Settings, how: str) -> None:
    from notifier.domain import SubscriberStatus
    from notifier.links import UNSUBSCRIBE

    await both_channels(web)
    if how == "bounce":
        async with web.p.store.transaction() as session:
            await session.execute(update(Subscriber).values(status=SubscriberStatus.BOUNCED))
    else:
        token = Links.from_settings(settings).token(UNSUBSCRIBE, 1, 1)
        done = await web.client.post(
            f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
        )
        assert "will get no more email from us" in done.text
        assert "Messages in Telegram go on: send /stop" in done.text
    await new_update(web.p, title="After the address stopped")
    assert (await watch_once(web.p.store)).alerts == 1
    async with web.p.store.read() as session:
        [row] = list(await session.scalars(select(OutboxMessage)))
    assert row.channel is Channel.TELEGRAM


async def test_leaving_everything_stops_telegram_too(web: Web) -> None:
    await both_channels(web)
    await web.post(action="leave_all")
    async with web.p.store.read() as session:
        anna = await session.scalar(select(Subscriber))
        assert anna is not None
        assert anna.telegram_chat_id is None  # unlinked, as /stop in the chat does
    assert await web.follows() == [("country:KZ", "instant", "email")]
    await new_update(web.p, title="After leaving")
    assert (await watch_once(web.p.store)).alerts == 0


async def test_an_unpublished_case_cannot_be_followed_or_named(web: Web) -> None:
    async with web.p.store.transaction() as session:
        await session.execute(
            update(Case).where(Case.slug == "makhset-djabbarbergenov").values(published=False)
        )
    page = await web.show()
    assert "Djabbarbergenov" not in page.text  # not suggested
    refused = await web.post(action="follow", value="Djabbarbergenov", cadence="weekly")
    assert "We do not know a country or person called “Djabbarbergenov”." in refused.text


async def test_choose_when_digests_come(web: Web) -> None:
    assert "When digests come" not in (await web.show()).text  # instant only: nothing to time
    await web.post(action="cadence", value="weekly")
    page = await web.show()
    assert "When digests come" in page.text
    assert '<option value="0" selected>Monday</option>' in page.text
    assert '<option value="Asia/Almaty">' in page.text
    saved = await web.post(
        action="schedule", digest_day="4", digest_time="18:30", time_zone="Asia/Almaty"
    )
    assert "Saved: daily digests come at 18:30, weekly ones on Fridays at 18:30" in saved.text
    async with web.p.store.read() as session:
        anna = await session.scalar(select(Subscriber))
        assert anna is not None
        assert (anna.digest_day, anna.digest_time, anna.time_zone) == (4, "18:30", "Asia/Almaty")
        # The planner schedules the new time: Fridays 18:30 in Almaty.
        assert await personal_groups(session) == [
            PersonalGroup(Cadence.WEEKLY, 4, "18:30", "Asia/Almaty")
        ]
    bad = await web.post(
        action="schedule", digest_day="7", digest_time="25:00", time_zone="Mars/Base"
    )
    assert bad.status_code == 400
    for problem in (
        "Time zone: unknown time zone &#39;Mars/Base&#39;",
        "Time: use hours and minutes, such as 07:00.",
        "Day: choose one of the days.",
    ):
        assert problem in bad.text
    async with web.p.store.read() as session:
        assert await session.scalar(select(Subscriber.time_zone)) == "Asia/Almaty"  # unchanged


async def test_new_follows_go_only_where_news_can_still_reach(web: Web) -> None:
    from notifier.domain import SubscriberStatus

    await both_channels(web)
    async with web.p.store.transaction() as session:
        await session.execute(update(Subscriber).values(status=SubscriberStatus.BOUNCED))
    page = await web.show()
    assert "Where news comes" not in page.text  # only Telegram can reach Anna now
    await web.post(action="follow", value="Kashkumbaev", cadence="daily")
    case = await case_target(web.p, "kashkumbaev")
    assert (case, "daily", "telegram") in await web.follows()
    assert (case, "daily", "email") not in await web.follows()


def error_beside(page: str, field: str) -> str:
    """The text of the error shown beside a field (styled as an error), or "" if none."""
    found = re.search(rf'<div class="error" id="{field}-error" role="alert">(.*?)</div>', page)
    return re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""


async def test_one_bad_name_keeps_the_good_ones_and_the_choices_made(web: Web) -> None:
    """Kashkumbaev is followed, daily as chosen; "Kazakstn" comes back in the field, with a
    "did you mean" beside it from the same function the CLI uses, and daily still chosen."""
    case = await case_target(web.p, "kashkumbaev")
    page = await web.post(action="follow", value="Kazakstn, Kashkumbaev", cadence="daily")
    assert page.status_code == 400
    assert "Saved: you now follow that." in page.text
    assert (case, "daily", "email") in await web.follows()
    beside = error_beside(page.text, "follow")
    assert "We do not know a country or person called “Kazakstn”. Did you mean Kazakhstan" in (
        beside
    )
    assert 'name="value" value="Kazakstn"' in page.text
    assert 'aria-invalid="true" aria-describedby="follow-error"' in page.text
    assert '<option value="daily" selected>a daily digest</option>' in page.text
    assert "Nothing was changed" not in page.text
    # The CLI says the same of the same text.
    with pytest.raises(NotFoundError, match="did you mean Kazakhstan"):
        resolve_country("Kazakstn")


async def test_a_near_miss_of_a_name_suggests_the_person(web: Web) -> None:
    page = await web.post(action="follow", value="Bakhytzan Kashkumbayv", cadence="weekly")
    assert "Did you mean Bakhytzhan Kashkumbayev?" in error_beside(page.text, "follow")
    near = await web.post(action="follow", value="Djabbarbergenof", cadence="weekly")
    assert "Did you mean Makhset Djabbarbergenov?" in error_beside(near.text, "follow")
    async with web.p.store.transaction() as session:
        await session.execute(
            update(Case).where(Case.slug == "makhset-djabbarbergenov").values(published=False)
        )
    hidden = await web.post(action="follow", value="Djabbarbergenof", cadence="weekly")
    assert "Djabbarbergenov?" not in error_beside(hidden.text, "follow")  # not published


async def test_a_refused_schedule_keeps_what_was_typed_beside_each_error(web: Web) -> None:
    await web.post(action="cadence", value="weekly")
    for zone in ("Factory", "localtime", "posix/Europe/Berlin", "right/UTC"):
        page = await web.post(
            action="schedule", digest_day="4", digest_time="18:30", time_zone=zone
        )
        assert page.status_code == 400, zone
        assert f"unknown time zone &#39;{zone}&#39;" in error_beside(page.text, "time_zone")
        assert f'name="time_zone" value="{zone}"' in page.text  # as typed
        assert '<option value="4" selected>Friday</option>' in page.text
        assert 'value="18:30"' in page.text
        assert error_beside(page.text, "digest_time") == ""
    async with web.p.store.read() as session:
        anna = await session.scalar(select(Subscriber))
        assert anna is not None
        assert (anna.digest_day, anna.digest_time, anna.time_zone) == (0, "07:00", "UTC")


async def test_the_time_zone_menu_offers_places_only(web: Web) -> None:
    await web.post(action="cadence", value="weekly")
    page = (await web.show()).text
    menu = re.search(r'<datalist id="zones">(.*?)</datalist>', page)
    assert menu is not None
    offered = re.findall(r'<option value="([^"]+)">', menu.group(1))
    for place in ("Europe/Berlin", "Asia/Almaty", "America/Argentina/Salta", "UTC"):
        assert place in offered
    for name in ("Factory", "localtime", "posixrules", "Etc/GMT+5", "US/Eastern", "EST5EDT"):
        assert name not in offered
    assert not [z for z in offered if z.startswith(("posix/", "right/", "Etc/"))]
    assert offered == sorted(offered)


async def test_errors_and_leaving_everything_look_like_what_they_are(web: Web) -> None:
    page = await web.post(action="follow", value="Narnia", cadence="weekly")
    styles = re.search(r"<style>(.*?)</style>", page.text, re.S)
    assert styles is not None
    css = styles.group(1)
    assert re.search(r"\.error \{[^}]*color: #8a1212", css)
    assert re.search(r"button\.danger \{[^}]*background: #b3261e", css)
    assert error_beside(page.text, "follow")
    assert '<button type="submit" class="danger">Unsubscribe from everything</button>' in (
        page.text
    )
    forged = await web.client.post(web.url, data={"csrf": "forged", "action": "resume"})
    assert '<div class="error" role="alert">' in forged.text


async def test_control_characters_and_impossible_ids_are_refused_not_a_crash(web: Web) -> None:
    """PostgreSQL answered 500 to a NUL in a follow or a time zone, and to an id past its
    32-bit integers."""
    before = await web.follows()
    follow = await web.post(action="follow", value="Kazakh\x00stan", cadence="weekly")
    assert follow.status_code == 400
    assert "Follow: must not contain a NUL character (U+0000) at character 7." in follow.text
    assert 'value="Kazakhstan"' in follow.text  # kept for correcting, less the NUL
    schedule = await web.post(
        action="schedule", digest_day="0", digest_time="07:00", time_zone="Asia/Almaty\x00"
    )
    assert schedule.status_code == 400
    assert "Time zone: must not contain a NUL character (U+0000)" in schedule.text
    for action in ("unfollow", "leave_list"):
        for huge in ("4611686018427387903", "2147483648", "-1"):
            assert (await web.post(action=action, value=huge)).status_code == 400
    assert await web.follows() == before
    async with web.p.store.read() as session:
        assert await session.scalar(select(Subscriber.time_zone)) == "UTC"
