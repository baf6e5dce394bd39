"""The console's Subscribers, Outbox and Bounces pages, through HTTP as a browser uses them: the
search (every filter, pages by cursor, the fields keeping what was typed), a subscriber's page
(follows, lists, consent, bounces, messages a page at a time), each action (pause, resume,
reactivate, unsubscribe and erase after their confirmation pages) done and audited as the
signed-in user; a coordinator reaching only their list's members, an editor only reading; the
outbox filtered and failed messages sent again; the bounces; and bad input named beside its
field, the other fields kept, a 400 and never a 500."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from notifier.config import Settings
from notifier.domain import OutboxStatus, SubscriberStatus
from notifier.service import Pipeline, pipeline
from notifier.store.audit import entries
from notifier.store.models import AuditEntry, OutboxMessage, Subscriber, utcnow
from notifier.store.outbox import BOUNCED_AFTER_SENT
from notifier.web.app import create_app
from tests.helpers import (
    CHAIN,
    KZ,
    PASTOR,
    AppClient,
    add_console_users,
    console_form,
    console_sign_in,
    news,
    seed,
    subscribe,
)

OWNER, EDITOR, COORDINATOR = "owner@example.org", "editor@example.org", "coordinator@example.org"
#: On the example list (the coordinator's), and not.
ANNA, OUTSIDER = "anna.petrova@example.org", "olga@example.net"
BOUNCER, SOFT = "gone@example.com", "flaky@example.com"
MEMBERS = {ANNA, "david.okafor@example.org", "maria.schmidt@example.org", "prayer-team@example.org"}


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
        await subscribe(p, OUTSIDER, KZ, name="Olga Outsider")
        await subscribe(p, BOUNCER, KZ, name="Gone Away")
        await subscribe(p, SOFT, name="Flaky Server")
        app = create_app(settings, p.store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


async def signed_in(client: httpx.AsyncClient, email: str = OWNER) -> str:
    """Sign in; the session's form token."""
    assert (await console_sign_in(client, email)).status_code == 303
    return await console_form(client, "/admin/account")


async def id_of(p: Pipeline, email: str) -> int:
    async with p.store.read() as session:
        found = await session.scalar(select(Subscriber.id).where(Subscriber.email == email))
    assert found is not None, email
    return found


async def subscriber_row(p: Pipeline, email: str) -> Subscriber | None:
    async with p.store.read() as session:
        return await session.scalar(select(Subscriber).where(Subscriber.email == email))


async def audit_log(p: Pipeline) -> list[AuditEntry]:
    async with p.store.read() as session:
        return await entries(session)


def listed(page: str) -> list[str]:
    """The subscribers a search page lists, as their links say."""
    return re.findall(r'<td[^>]*><a href="/admin/subscribers/\d+">([^<]+)</a>', page)


def field_error(page: str, name: str) -> str:
    assert f'aria-describedby="e-{name}"' in page, f"no error tied to {name}"
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', page, re.S)
    assert found is not None, f"no error beside {name}"
    return html.unescape(found.group(1))


def page_error(page: str) -> str:
    found = re.search(r'<div class="error" role="alert">(.*?)</div>', page, re.S)
    assert found is not None, "no error above the form"
    return html.unescape(found.group(1))


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found.group(1)) if found else None


async def bounce(p: Pipeline) -> None:
    """BOUNCER's alert bounced after it was sent (so they are bounced); SOFT has temporary
    failures counted."""
    await news(p)
    async with p.store.transaction() as session:
        gone = await session.scalar(select(Subscriber).where(Subscriber.email == BOUNCER))
        assert gone is not None
        gone.status = SubscriberStatus.BOUNCED
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.subscriber_id == gone.id)
            .values(
                status=OutboxStatus.SENT,
                sent_at=utcnow(),
                last_error=f"{BOUNCED_AFTER_SENT}550 5.1.1 no such user",
            )
        )
        await session.execute(
            update(Subscriber)
            .where(Subscriber.email == SOFT)
            .values(soft_bounces=2, soft_bounce_last=utcnow())
        )


# --- the search -------------------------------------------------------------------------------


async def test_search_filters_and_pages(console: AppClient) -> None:
    p, client = console
    await signed_in(client)
    everyone = await client.get("/admin/subscribers")
    assert everyone.status_code == 200
    assert set(listed(everyone.text)) == MEMBERS | {OUTSIDER, BOUNCER, SOFT}
    # Any part of the address or the name, any case.
    found = await client.get("/admin/subscribers", params={"q": "PETROVA"})
    assert listed(found.text) == [ANNA]
    assert 'value="PETROVA"' in found.text  # the field keeps what was typed
    assert listed((await client.get("/admin/subscribers?q=outsider")).text) == [OUTSIDER]
    # Following a country (by name), a case; on a list; by status.
    by_country = await client.get("/admin/subscribers", params={"country": "Kazakhstan"})
    assert set(listed(by_country.text)) == {OUTSIDER, BOUNCER}
    assert 'value="Kazakhstan"' in by_country.text
    assert listed((await client.get("/admin/subscribers", params={"case": PASTOR})).text) == []
    on_list = await client.get("/admin/subscribers", params={"list": CHAIN, "q": "example.org"})
    assert set(listed(on_list.text)) == MEMBERS
    assert f'<option value="{CHAIN}" selected>' in on_list.text
    await bounce(p)
    bounced = await client.get("/admin/subscribers", params={"status": "bounced"})
    assert listed(bounced.text) == [BOUNCER]
    assert '<option value="bounced" selected>' in bounced.text
    # Pages: Next (and First), by the cursor, newest first, every one once.
    seen: list[str] = []
    address: str | None = "/admin/subscribers?limit=3"
    pages = 0
    while address is not None:
        shown = await client.get(address)
        assert shown.status_code == 200
        seen += listed(shown.text)
        pages += 1
        if pages > 1:
            assert "First page" in shown.text
        address = next_link(shown.text)
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    ids = [await id_of(p, email) for email in seen]
    assert ids == sorted(ids, reverse=True)


async def test_bad_search_input_is_named_and_the_rest_kept(console: AppClient) -> None:
    _, client = console
    await signed_in(client)
    cases: list[tuple[dict[str, str], str]] = [
        ({"q": "ann\x00a", "country": "KZ"}, "q"),
        ({"q": "x" * 400, "country": "KZ"}, "q"),
        ({"status": "sleeping", "country": "KZ"}, "status"),
        ({"country": "Narnia", "q": "anna"}, "country"),
        ({"case": "no-such-case", "q": "anna"}, "case"),
    ]
    for params, name in cases:
        answer = await client.get("/admin/subscribers", params=params)
        assert answer.status_code == 400, params
        assert field_error(answer.text, name), params
        kept = next(k for k in params if k != name)
        assert f'value="{params[kept]}"' in answer.text, params
    for params, name in [({"after": "abc", "q": "anna"}, "after"), ({"limit": "0"}, "limit")]:
        answer = await client.get("/admin/subscribers", params=params)
        assert answer.status_code == 400
        assert page_error(answer.text).startswith(f"{name}:")


# --- a subscriber's page --------------------------------------------------------------------------


async def test_the_subscriber_page_shows_everything(console: AppClient) -> None:
    p, client = console
    await signed_in(client)
    await bounce(p)
    anna = await client.get(f"/admin/subscribers/{await id_of(p, ANNA)}")
    assert anna.status_code == 200
    text = html.unescape(anna.text)
    assert "Kazakhstan prayer chain" in text
    assert "the list file" in text
    assert "named as a member in a list file" in text  # the consent record: how
    assert "Confirmed</dt><dd>20" in text  # and when
    gone = html.unescape((await client.get(f"/admin/subscribers/{await id_of(p, BOUNCER)}")).text)
    assert "<code>country=KZ:instant:email</code>" in gone
    assert "550 5.1.1 no such user" in gone  # the last report, and the message's error
    assert "<td>alert</td><td>email</td><td>sent</td>" in gone
    assert "Reactivate the address" in gone
    # Messages a page at a time (50 a page: the second starts after the newest here).
    for title in ("Second", "Third"):
        await news(p, title=title)
    outsider = await id_of(p, OUTSIDER)
    first = await client.get(f"/admin/subscribers/{outsider}")
    assert first.text.count("<td>alert</td>") == 3
    async with p.store.read() as session:
        newest = await session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.subscriber_id == outsider)
            .order_by(OutboxMessage.id.desc())
        )
    older = await client.get(f"/admin/subscribers/{outsider}?messages_after={newest}")
    assert older.status_code == 200
    assert older.text.count("<td>alert</td>") == 2
    assert "Newest messages" in older.text
    assert (await client.get("/admin/subscribers/999999")).status_code == 404
    assert (await client.get("/admin/subscribers/nobody")).status_code == 404
    bad = await client.get(f"/admin/subscribers/{outsider}?messages_after=x%00y")
    assert bad.status_code == 400
    assert "page cursor" in bad.text


async def test_each_action_is_done_and_audited(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    await bounce(p)
    anna = await id_of(p, ANNA)
    base = f"/admin/subscribers/{anna}"
    day = (utcnow().date() + timedelta(days=10)).isoformat()
    paused = await client.post(f"{base}/pause", data={"csrf": token, "until": day})
    assert paused.status_code == 303
    page = await client.get(paused.headers["location"])
    assert "Paused: nothing is sent" in page.text
    assert f"until {day}" in page.text
    row = await subscriber_row(p, ANNA)
    assert row is not None
    assert row.paused_until is not None
    assert row.paused_until.date() in {utcnow().date() + timedelta(days=d) for d in (9, 10)}
    resumed = await client.post(f"{base}/resume", data={"csrf": token})
    assert "The pause is over" in (await client.get(resumed.headers["location"])).text
    row = await subscriber_row(p, ANNA)
    assert row is not None
    assert row.paused_until is None
    # A bounced address reactivated; one not bounced cannot be (409, said on the page).
    gone = await id_of(p, BOUNCER)
    again = await client.post(f"/admin/subscribers/{gone}/reactivate", data={"csrf": token})
    assert again.status_code == 303
    row = await subscriber_row(p, BOUNCER)
    assert row is not None
    assert row.status is SubscriberStatus.ACTIVE
    refused = await client.post(f"{base}/reactivate", data={"csrf": token})
    assert refused.status_code == 409
    assert "not bounced" in refused.text
    # Unsubscribe: a page saying what happens, then the POST.
    asked = await client.get(f"{base}/unsubscribe")
    assert asked.status_code == 200
    assert "Unsubscribe anna.petrova@example.org?" in asked.text
    assert f'action="{base}/unsubscribe"' in asked.text
    row = await subscriber_row(p, ANNA)
    assert row is not None
    assert row.status is SubscriberStatus.ACTIVE
    done = await client.post(f"{base}/unsubscribe", data={"csrf": token})
    assert "Unsubscribed from everything" in (await client.get(done.headers["location"])).text
    row = await subscriber_row(p, ANNA)
    assert row is not None
    assert row.status is SubscriberStatus.UNSUBSCRIBED
    # Erase: the same two steps; then nothing of them is left.
    outsider = await id_of(p, OUTSIDER)
    asked = await client.get(f"/admin/subscribers/{outsider}/erase")
    assert asked.status_code == 200
    assert "Erase olga@example.net?" in asked.text
    assert await subscriber_row(p, OUTSIDER) is not None
    erased = await client.post(f"/admin/subscribers/{outsider}/erase", data={"csrf": token})
    assert erased.headers["location"] == f"/admin/subscribers?done={outsider}"
    assert f"Subscriber {outsider} is erased" in (await client.get(erased.headers["location"])).text
    assert await subscriber_row(p, OUTSIDER) is None
    assert (await client.get(f"/admin/subscribers/{outsider}")).status_code == 404
    log = [(e.actor, e.action, e.target) for e in reversed(await audit_log(p))]
    me = f"user:{OWNER}"
    assert log[-5:] == [
        (me, "subscriber.pause", ANNA),
        (me, "subscriber.resume", ANNA),
        (me, "subscriber.reactivate", BOUNCER),
        (me, "subscriber.remove", ANNA),
        (me, "subscriber.erase", f"subscriber {outsider}"),
    ]


async def test_bad_pause_dates_are_named(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    base = f"/admin/subscribers/{await id_of(p, ANNA)}"
    today = utcnow().date()
    for typed in ("tomorrow", "2024-02-30", "\x00", "9" * 300, today.isoformat(),
                  (today + timedelta(days=400)).isoformat()):  # fmt: skip
        answer = await client.post(f"{base}/pause", data={"csrf": token, "until": typed})
        assert answer.status_code == 400, typed
        assert field_error(answer.text, "until"), typed
    kept = await client.post(f"{base}/pause", data={"csrf": token, "until": "2024-02-30"})
    assert 'value="2024-02-30"' in kept.text
    row = await subscriber_row(p, ANNA)
    assert row is not None
    assert row.paused_until is None


# --- who may ---------------------------------------------------------------------------------


async def test_a_coordinator_reaches_only_their_lists_members(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client, COORDINATOR)
    everyone = await client.get("/admin/subscribers")
    assert set(listed(everyone.text)) == MEMBERS
    assert listed((await client.get("/admin/subscribers?q=olga")).text) == []
    other = await client.get("/admin/subscribers", params={"list": "central-asia-weekly"})
    assert other.status_code == 403
    assert "not open to you" in other.text
    outsider = await id_of(p, OUTSIDER)
    assert (await client.get(f"/admin/subscribers/{outsider}")).status_code == 403
    assert (await client.get(f"/admin/subscribers/{outsider}/erase")).status_code == 403
    refused = await client.post(f"/admin/subscribers/{outsider}/unsubscribe", data={"csrf": token})
    assert refused.status_code == 403
    row = await subscriber_row(p, OUTSIDER)
    assert row is not None
    assert row.status is SubscriberStatus.ACTIVE
    # Their own member: seen and changed, as themselves.
    anna = await id_of(p, ANNA)
    page = await client.get(f"/admin/subscribers/{anna}")
    assert page.status_code == 200
    assert f'action="/admin/subscribers/{anna}/pause"' in page.text
    day = (utcnow().date() + timedelta(days=3)).isoformat()
    paused = await client.post(
        f"/admin/subscribers/{anna}/pause", data={"csrf": token, "until": day}
    )
    assert paused.status_code == 303
    newest = (await audit_log(p))[0]
    assert (newest.actor, newest.action, newest.target) == (
        f"user:{COORDINATOR}",
        "subscriber.pause",
        ANNA,
    )
    # Neither the outbox nor the bounces.
    assert (await client.get("/admin/outbox")).status_code == 403
    assert (await client.get("/admin/bounces")).status_code == 403


async def test_an_editor_reads_but_changes_nothing(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client, EDITOR)
    await bounce(p)
    gone = await id_of(p, BOUNCER)
    page = await client.get(f"/admin/subscribers/{gone}")
    assert page.status_code == 200
    assert "550 5.1.1" in page.text
    assert "/pause" not in page.text
    assert "Erase…" not in page.text
    assert "Reactivate" not in page.text
    assert 'method="post" action="/admin/sub' not in page.text
    for action in ("pause", "resume", "reactivate", "unsubscribe", "erase"):
        answer = await client.post(
            f"/admin/subscribers/{gone}/{action}", data={"csrf": token, "until": "2099-01-01"}
        )
        assert answer.status_code == 403, action
        assert "not open to you" in answer.text, action
    assert (await client.get(f"/admin/subscribers/{gone}/erase")).status_code == 403
    row = await subscriber_row(p, BOUNCER)
    assert row is not None
    assert row.status is SubscriberStatus.BOUNCED
    outbox = await client.get("/admin/outbox")
    assert outbox.status_code == 200
    assert "Retry" not in outbox.text
    retry = await client.post("/admin/outbox/retry-failed", data={"csrf": token})
    assert retry.status_code == 403


# --- the outbox and bounces ---------------------------------------------------------------------


async def fail_one(p: Pipeline, email: str, error: str) -> int:
    """The message for `email` failed with `error`; its id."""
    who = await id_of(p, email)
    async with p.store.transaction() as session:
        found = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.subscriber_id == who)
        )
        assert found is not None
        found.status, found.last_error, found.attempts = OutboxStatus.FAILED, error, 5
        return found.id


async def status_of(p: Pipeline, message_id: int) -> OutboxStatus:
    async with p.store.read() as session:
        found = await session.get(OutboxMessage, message_id)
    assert found is not None
    return found.status


async def test_outbox_filters_and_retry(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    await news(p)
    failed = await fail_one(p, OUTSIDER, "421 4.7.0 try again later (greylisted)")
    everything = await client.get("/admin/outbox")
    assert everything.status_code == 200
    assert everything.text.count("<td>alert</td>") == 2
    only_failed = await client.get("/admin/outbox", params={"status": "failed"})
    assert only_failed.text.count("<td>alert</td>") == 1
    assert "421 4.7.0 try again later (greylisted)" in only_failed.text
    assert f'action="/admin/outbox/{failed}/retry"' in only_failed.text
    assert '<option value="failed" selected>' in only_failed.text
    assert (await client.get("/admin/outbox?channel=telegram")).text.count("<td>alert</td>") == 0
    assert (await client.get("/admin/outbox?kind=digest")).text.count("<td>alert</td>") == 0
    today = utcnow().date()
    for since, until, shown in (
        (today, today, 2), (today - timedelta(days=3), today - timedelta(days=1), 0),
        (today + timedelta(days=1), None, 0),
    ):  # fmt: skip
        params = {"since": since.isoformat(), "until": until.isoformat() if until else ""}
        answer = await client.get("/admin/outbox", params=params)
        assert answer.status_code == 200
        assert answer.text.count("<td>alert</td>") == shown, params
    # Pages by the cursor.
    first = await client.get("/admin/outbox?limit=1")
    after = next_link(first.text)
    assert after is not None
    second = await client.get(after)
    assert second.text.count("<td>alert</td>") == 1
    assert next_link(second.text) is None
    # One message sent again, back on the page it was on.
    again = await client.post(
        f"/admin/outbox/{failed}/retry", data={"csrf": token, "back": "status=failed&evil=1"}
    )
    assert again.status_code == 303
    assert again.headers["location"] == "/admin/outbox?status=failed&retried=1"
    assert "1 message queued to be sent again" in (await client.get(again.headers["location"])).text
    assert await status_of(p, failed) is OutboxStatus.PENDING
    # Every failed one.
    failed = await fail_one(p, BOUNCER, "550 mailbox full")
    everyone = await client.post("/admin/outbox/retry-failed", data={"csrf": token, "back": ""})
    assert everyone.headers["location"] == "/admin/outbox?retried=1"
    assert await status_of(p, failed) is OutboxStatus.PENDING
    log = [(e.actor, e.action) for e in await audit_log(p)][:2]
    assert log == [(f"user:{OWNER}", "outbox.retry")] * 2


async def test_bad_outbox_input_is_named(console: AppClient) -> None:
    _, client = console
    await signed_in(client)
    for params, name in [
        ({"since": "2024-13-01", "status": "failed"}, "since"),
        ({"until": "yesterday\x00", "status": "failed"}, "until"),
        ({"until": "2024-01-01", "since": "2024-02-01", "status": "failed"}, "until"),
        ({"status": "lost", "since": "2024-01-01"}, "status"),
        ({"channel": "pigeon", "status": "failed"}, "channel"),
        ({"kind": "x" * 500, "status": "failed"}, "kind"),
    ]:
        answer = await client.get("/admin/outbox", params=params)
        assert answer.status_code == 400, params
        assert field_error(answer.text, name), params
        kept = next(k for k in params if k != name)
        assert params[kept] in answer.text, params
    for params, name in [({"after": "12-x"}, "after"), ({"limit": "1000"}, "limit")]:
        answer = await client.get("/admin/outbox", params=params)
        assert answer.status_code == 400
        assert page_error(answer.text).startswith(f"{name}:")
    for params, name in [({"which": "hard"}, "which"), ({"after": "-1"}, "after")]:
        answer = await client.get("/admin/bounces", params=params)
        assert answer.status_code == 400, params
        assert name in answer.text


async def test_the_bounces_page(console: AppClient) -> None:
    p, client = console
    await signed_in(client, EDITOR)
    empty = await client.get("/admin/bounces")
    assert empty.status_code == 200
    assert "No address has bounced" in empty.text
    await bounce(p)
    both = await client.get("/admin/bounces")
    assert listed(both.text) == [SOFT, BOUNCER]
    text = html.unescape(both.text)
    assert "550 5.1.1 no such user" in text
    assert f'href="/admin/subscribers/{await id_of(p, BOUNCER)}"' in text
    assert listed((await client.get("/admin/bounces?which=bounced")).text) == [BOUNCER]
    assert listed((await client.get("/admin/bounces?which=soft")).text) == [SOFT]
