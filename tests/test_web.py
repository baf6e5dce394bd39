"""The web app through httpx against the real ASGI app: RFC 8058 one-click unsubscribe, the
confirm page a link scanner sees, refused tokens, health and metrics."""

from __future__ import annotations

import email.policy
import mailbox
import re
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select, update

from notifier.config import Settings
from notifier.digests import send_list_digest_now
from notifier.domain import Cadence, Severity, SubscriberStatus
from notifier.domain.subscriber_specs import SubscriberSpec
from notifier.links import UNSUBSCRIBE, Links
from notifier.service import Pipeline, pipeline
from notifier.store.cases import add_update, get_case
from notifier.store.models import ListMember, Subscriber, Subscription
from notifier.store.subscribers import add_follows, get_list, get_subscriber, import_subscribers
from notifier.watch import watch_once
from notifier.web.app import create_app
from tests.helpers import CHAIN, KZ, maildir, new_update, seed

ANNA = "anna.petrova@example.org"


async def status_by_email(p: Pipeline, address: str) -> SubscriberStatus:
    async with p.store.read() as session:
        return (await get_subscriber(session, address)).status


async def status_of(p: Pipeline) -> SubscriberStatus:
    async with p.store.read() as session:
        found: SubscriberStatus | None = await session.scalar(select(Subscriber.status))
        assert found is not None
        return found


def token_for(settings: Settings, subscriber_id: int = 1, version: int = 1) -> str:
    return Links.from_settings(settings).token(UNSUBSCRIBE, subscriber_id, version)


async def test_a_get_only_shows_a_button(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    p, client = web
    response = await client.get(f"/unsubscribe/{token_for(settings)}")
    assert response.status_code == 200
    assert "anna@example.org" in response.text
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert await status_of(p) is SubscriberStatus.ACTIVE  # a link scanner changes nothing


@pytest.mark.parametrize("encoding", ["form", "multipart"])
async def test_one_click_post_unsubscribes_at_once_and_twice_is_harmless(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings, encoding: str
) -> None:
    p, client = web
    url = f"/unsubscribe/{token_for(settings)}"
    body = {"List-Unsubscribe": "One-Click"}
    for said in ("You are unsubscribed", "You are already unsubscribed"):
        if encoding == "form":
            response = await client.post(url, data=body)
        else:
            response = await client.post(url, files={"List-Unsubscribe": (None, "One-Click")})
        assert response.status_code == 200  # no redirect, no login, no cookie
        assert "location" not in response.headers
        assert "set-cookie" not in response.headers
        assert said in response.text
    assert await status_of(p) is SubscriberStatus.UNSUBSCRIBED


async def test_opening_the_link_again_says_already_unsubscribed(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    p, client = web
    url = f"/unsubscribe/{token_for(settings)}"
    assert (await client.post(url, data={"List-Unsubscribe": "One-Click"})).status_code == 200
    again = await client.get(url)
    assert again.status_code == 200
    assert "<h1>You are already unsubscribed</h1>" in again.text
    assert "anna@example.org gets no more email from us" in again.text
    assert "One-Click" not in again.text  # nothing left to press
    assert "Stop these emails?" not in again.text
    async with p.store.transaction() as session:
        await session.execute(update(Subscriber).values(status=SubscriberStatus.BOUNCED))
    bounced = await client.get(url)
    assert "<h1>You are already unsubscribed</h1>" in bounced.text
    assert "could not be delivered" in bounced.text


async def test_a_prayer_chains_digest_link_offers_to_leave_only_that_chain(
    settings: Settings,
) -> None:
    """Anna is on the example prayer chain and follows Kazakhstan herself. The unsubscribe link
    of the chain's digest offers to leave only the chain (what a mail client's one-click does),
    or everything; her alerts' link offers everything. Opened again, each says what is done."""
    async with pipeline(settings) as p:
        await seed(p)
        async with p.store.transaction() as session:
            anna = await get_subscriber(session, ANNA)
            await add_follows(session, anna, [KZ])
        await new_update(p, title="News for the chain")
        await watch_once(p.store)  # her alert
        async with p.store.transaction() as session:
            chain = await get_list(session, CHAIN, follows=True)
            await send_list_digest_now(session, p.renderer, chain, now=datetime.now(UTC))
        await p.deliverer.drain()
        mine = [m for m in maildir(settings) if ANNA in str(m["To"])]
        links = {
            "digest" if "prayer chain" in str(m["Subject"]) else "alert": str(
                m["List-Unsubscribe"]
            ).strip("<> ")
            for m in mine
        }
        assert set(links) == {"digest", "alert"}
        app = create_app(settings, p.store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            offer = (await c.get(links["digest"])).text
            assert "Leave only “Kazakhstan prayer chain”</button>" in offer
            assert '<button type="submit" class="danger">Unsubscribe from everything' in offer
            alert_offer = (await c.get(links["alert"])).text
            assert "Leave only" not in alert_offer
            assert "Unsubscribe from everything" in alert_offer

            # A mail client's one-click POST: the list the message came from.
            left = await c.post(links["digest"], data={"List-Unsubscribe": "One-Click"})
            assert left.status_code == 200
            assert "<h1>You left “Kazakhstan prayer chain”</h1>" in left.text
            async with p.store.read() as session:
                anna = await get_subscriber(session, ANNA)
                assert anna.status is SubscriberStatus.ACTIVE
                chains = select(ListMember.list_id).where(ListMember.subscriber_id == anna.id)
                assert list(await session.scalars(chains)) == []
                follows = select(Subscription.target).where(Subscription.subscriber_id == anna.id)
                assert list(await session.scalars(follows)) == ["country:KZ"]
            await new_update(p, title="After leaving the chain")
            assert (await watch_once(p.store)).alerts == 1  # her own follow goes on

            again = (await c.get(links["digest"])).text
            assert "You already left “Kazakhstan prayer chain”" in again
            assert "Leave only" not in again
            everything = await c.post(
                links["digest"], data={"List-Unsubscribe": "One-Click", "scope": "all"}
            )
            assert "<h1>You are unsubscribed</h1>" in everything.text
            assert await status_by_email(p, ANNA) is SubscriberStatus.UNSUBSCRIBED
            assert "You are already unsubscribed" in (await c.get(links["alert"])).text


async def test_a_list_link_keeps_working_when_its_list_is_gone(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    p, client = web
    links = Links.from_settings(settings)
    url = links.unsubscribe_url(1, 1, list_id=99).removeprefix(settings.public_url)
    page = await client.get(url)
    assert page.status_code == 200
    assert "Leave only" not in page.text
    response = await client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert "You are unsubscribed" in response.text
    assert await status_of(p) is SubscriberStatus.UNSUBSCRIBED
    # A list link cut down or given another list is refused like any altered token.
    token = url.removeprefix("/unsubscribe/")
    value, _, signature = token.rpartition(".")
    for forged in (f"1.1.{signature}", f"1.1.98.{signature}"):
        assert (await client.get(f"/unsubscribe/{forged}")).status_code == 404
    assert value == "1.1.99"


async def test_a_post_without_the_one_click_body_changes_nothing(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    p, client = web
    response = await client.post(f"/unsubscribe/{token_for(settings)}", data={"x": "y"})
    assert response.status_code == 400
    assert await status_of(p) is SubscriberStatus.ACTIVE


async def test_forged_altered_and_revoked_tokens_are_refused_alike(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    p, client = web
    good = token_for(settings)
    other_key = Links("https://x", "another key").token(UNSUBSCRIBE, 1, 1)
    tokens = [
        good[:-3] + ("abc" if not good.endswith("abc") else "xyz"),
        good.replace("1.1.", "2.1.", 1),
        other_key,
        "1.1.forged",
        Links.from_settings(settings).token("preferences", 1, 1),
    ]
    async with p.store.transaction() as session:  # revoke every link issued so far
        await session.execute(update(Subscriber).values(token_version=2))
    tokens.append(good)
    pages = set()
    for token in tokens:
        for method in ("GET", "POST"):
            response = await client.request(
                method, f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
            )
            assert response.status_code == 404
            pages.add(response.text)
    assert len(pages) == 1  # the same page whatever was wrong
    assert "This link is not valid" in pages.pop()
    assert await status_of(p) is SubscriberStatus.ACTIVE


async def test_the_header_of_a_real_email_unsubscribes_and_nothing_more_arrives(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    p, client = web
    async with p.store.transaction() as session:
        case = await get_case(session, "kashkumbaev")
        await add_update(
            session, case, day=date(2024, 5, 1), title="Moved", body="", source_name=None,
            source_url=None, severity=Severity.NORMAL,
        )  # fmt: skip
    await watch_once(p.store)
    assert (await p.deliverer.drain()).sent == 1
    box = mailbox.Maildir(str(settings.mail_dir), factory=None, create=False)
    [raw] = [box.get_bytes(key) for key in box.iterkeys()]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    url = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    # What a mailbox provider does: POST the body to the URL, nothing else.
    response = await client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert await status_of(p) is SubscriberStatus.UNSUBSCRIBED
    async with p.store.transaction() as session:
        case = await get_case(session, "kashkumbaev")
        await add_update(
            session, case, day=date(2024, 5, 2), title="Moved again", body="",
            source_name=None, source_url=None, severity=Severity.URGENT,
        )  # fmt: skip
    assert (await watch_once(p.store)).alerts == 0


async def test_health_and_metrics(web: tuple[Pipeline, httpx.AsyncClient]) -> None:
    p, client = web
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"ok": True, "store": "ok", "scheduler": "ok"}
    await watch_once(p.store)
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE notifier_outbox_messages gauge" in metrics.text
    assert "notifier_last_watch_timestamp_seconds " in metrics.text


async def test_preferences_change_cadence_stop_a_follow_leave_a_list_and_everything(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    from notifier.links import PREFERENCES
    from notifier.store.models import ListMember, MailingList, Subscription

    p, client = web
    async with p.store.transaction() as session:
        chain = MailingList(slug="kz", name="Kazakhstan prayer chain", channels=["email"])
        session.add(chain)
        await session.flush()
        session.add(ListMember(list_id=chain.id, subscriber_id=1, source="file"))
    url = "/preferences/" + Links.from_settings(settings).token(PREFERENCES, 1, 1)
    shown = await client.get(url)
    assert shown.status_code == 200
    assert "Kazakhstan — instant by email" in shown.text
    assert "Kazakhstan prayer chain" in shown.text
    csrf = client.cookies.get("notifier_csrf")
    assert csrf
    assert f'name="csrf" value="{csrf}"' in shown.text

    # Without the matching CSRF value nothing changes.
    refused = await client.post(
        url, data={"csrf": "forged", "action": "cadence", "value": "weekly"}
    )
    assert refused.status_code == 403

    saved = await client.post(url, data={"csrf": csrf, "action": "cadence", "value": "weekly"})
    assert "Saved: your news now comes in a weekly digest." in saved.text
    async with p.store.read() as session:
        [sub] = list(await session.scalars(select(Subscription)))
        assert sub.cadence is Cadence.WEEKLY
    await client.post(url, data={"csrf": csrf, "action": "leave_list", "value": str(chain.id)})
    await client.post(url, data={"csrf": csrf, "action": "unfollow", "value": str(sub.id)})
    async with p.store.read() as session:
        assert list(await session.scalars(select(Subscription))) == []
        assert list(await session.scalars(select(ListMember))) == []
    assert await status_of(p) is SubscriberStatus.ACTIVE
    gone = await client.post(url, data={"csrf": csrf, "action": "leave_all"})
    assert "You are unsubscribed from everything" in gone.text
    assert await status_of(p) is SubscriberStatus.UNSUBSCRIBED
    bad = await client.post(url, data={"csrf": csrf, "action": "cadence", "value": "hourly"})
    assert bad.status_code == 400
    forged = await client.get("/preferences/1.1.forged")
    assert forged.status_code == 404


async def test_preferences_offer_a_single_use_telegram_link(settings: Settings) -> None:
    from notifier.links import PREFERENCES
    from notifier.store.chats import redeem_link_code

    configured = settings.model_copy(update={"telegram_bot_username": "notifier_test_bot"})
    async with pipeline(configured) as p:
        async with p.store.transaction() as session:
            specs = [SubscriberSpec(where="t", email="anna@example.org", follows=[])]
            await import_subscribers(session, specs, configured)
            await session.execute(update(Subscriber).values(token_version=1))
        app = create_app(configured, p.store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            url = "/preferences/" + Links.from_settings(configured).token(PREFERENCES, 1, 1)
            text = (await client.get(url)).text
        found = re.search(r"https://t\.me/notifier_test_bot\?start=([A-Za-z0-9_-]{1,64})", text)
        assert found is not None
        async with p.store.transaction() as session:
            linked = await redeem_link_code(session, found.group(1), 4242)
            assert linked is not None
            assert linked.telegram_chat_id == 4242
            assert await redeem_link_code(session, found.group(1), 4343) is None  # single use


async def test_links_of_an_erased_subscriber_never_open_a_newcomers(
    web: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    """SQLite gives a new row the highest id plus one, so erasing the newest subscriber frees
    their id for the next. Their old links carry the id: they must not open the newcomer's
    page (a new subscriber's token version is random)."""
    from notifier.links import PREFERENCES
    from notifier.store.subscribers import get_subscriber, remove_subscriber

    p, client = web
    links = Links.from_settings(settings)
    old_preferences, old_unsubscribe = links.token(PREFERENCES, 1, 1), token_for(settings)
    async with p.store.transaction() as session:
        await remove_subscriber(
            session, await get_subscriber(session, "anna@example.org"), erase=True
        )
    async with p.store.transaction() as session:
        specs = [SubscriberSpec(where="t", email="bob@example.org", follows=[KZ])]
        await import_subscribers(session, specs, settings)
        bob = await get_subscriber(session, "bob@example.org")
        if p.store.dialect == "sqlite":
            assert bob.id == 1  # the id came round again (PostgreSQL's sequence never does)
        assert bob.token_version != 1
    page = await client.get(f"/preferences/{old_preferences}")
    assert page.status_code == 404
    assert "bob@example.org" not in page.text
    gone = await client.post(
        f"/unsubscribe/{old_unsubscribe}", data={"List-Unsubscribe": "One-Click"}
    )
    assert gone.status_code == 404
    assert await status_of(p) is SubscriberStatus.ACTIVE


async def test_a_non_ascii_csrf_value_is_refused_not_a_crash(
    web: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    _, client = web
    await client.get("/subscribe")  # sets the CSRF cookie
    refused = await client.post(
        "/subscribe", data={"csrf": "é", "email": "x@example.org", "follow": "KZ"}
    )
    assert refused.status_code == 403
