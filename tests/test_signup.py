"""Sign-up with double opt-in through the real app: the confirmation email arrives (by SMTP, at
a real aiosmtpd server), nothing else comes until the link is confirmed, the answer is the same
for known and unknown addresses, bad forms are named, floods are refused."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from notifier.config import Settings
from notifier.domain import Consent, MemberSource
from notifier.domain import SubscriberStatus as Status
from notifier.links import Links
from notifier.service import Pipeline
from notifier.store.models import ListMember, OutboxMessage, Subscriber
from notifier.watch import watch_once
from tests.helpers import form
from tests.smtp_server import SmtpServer


async def subscriber(p: Pipeline, email: str) -> Subscriber | None:
    async with p.store.read() as session:
        found: Subscriber | None = await session.scalar(
            select(Subscriber).where(Subscriber.email == email)
        )
        return found


async def test_subscribe_confirm_from_the_email_then_news_arrives(
    site: tuple[Pipeline, httpx.AsyncClient], smtp_server: SmtpServer
) -> None:
    p, client = site
    token = await form(client)
    sent = await client.post(
        "/subscribe",
        data={
            "csrf": token, "email": "New.Reader@Example.org", "name": "Анна",
            "follow": "kazakhstan, Kashkumbaev", "cadence": "instant",
        },
    )  # fmt: skip
    assert sent.status_code == 200
    assert "Check your inbox" in sent.text
    pending = await subscriber(p, "new.reader@example.org")
    assert pending is not None
    assert pending.status is Status.PENDING
    assert (await p.deliverer.drain()).sent == 1
    [confirmation] = smtp_server.received
    assert confirmation.rcpt_tos == ["new.reader@example.org"]
    text = confirmation.message.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "Kazakhstan" in body
    assert "Bakhytzhan Kashkumbayev" in body
    link = re.search(r"http\S+/confirm/\S+", body)
    assert link is not None
    # Until confirmed, nothing else: not even urgent news.
    async with p.store.transaction() as session:
        from datetime import date

        from notifier.domain import Severity
        from notifier.store.cases import add_update, get_case

        case = await get_case(session, "kashkumbaev")
        await add_update(
            session, case, day=date(2024, 5, 1), title="Urgent: moved", body="",
            source_name=None, source_url=None, severity=Severity.URGENT,
        )  # fmt: skip
    await watch_once(p.store)
    async with p.store.read() as session:
        to_pending = list(
            await session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.subscriber_id == pending.id)
            )
        )
    assert [k.value for k in to_pending] == ["confirm"]  # the list's members got it; not she
    confirm_page = await client.get(link.group(0))
    assert "Confirm your subscription" in confirm_page.text
    still = await subscriber(p, "new.reader@example.org")
    assert still is not None
    assert still.status is Status.PENDING  # opening the link (a scanner) confirms nobody
    done = await client.post(link.group(0))
    assert done.status_code == 200
    assert "is confirmed" in done.text
    active = await subscriber(p, "new.reader@example.org")
    assert active is not None
    assert active.status is Status.ACTIVE
    assert active.consent is Consent.SIGNUP  # double opt-in: the record says so, and when
    assert active.confirmed_at is not None


async def test_same_answer_for_known_and_unknown_addresses(
    site: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    p, client = site
    token = await form(client)
    answers = []
    for email in ("anna.petrova@example.org", "nobody@example.org"):  # known, unknown
        response = await client.post(
            "/subscribe",
            data={"csrf": token, "email": email, "follow": "KZ", "cadence": "daily"},
        )
        answers.append((response.status_code, response.text))
    assert answers[0] == answers[1]
    known = await subscriber(p, "anna.petrova@example.org")
    assert known is not None
    assert known.status is Status.ACTIVE  # a stranger cannot change her subscription
    async with p.store.read() as session:
        kinds = list(await session.scalars(select(OutboxMessage.subscriber_id)))
    assert kinds == [(await subscriber(p, "nobody@example.org")).id]  # type: ignore[union-attr]


async def test_bad_fields_are_named_and_nothing_is_written(
    site: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    p, client = site
    token = await form(client)
    response = await client.post(
        "/subscribe",
        data={"csrf": token, "email": "not-an-address", "follow": "Atlantis, Kazakstan",
              "cadence": "hourly"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Email: " in response.text
    assert "We do not know a country or person called “Atlantis”." in response.text
    assert "How often: choose one of the options." in response.text
    assert 'value="not-an-address"' in response.text  # what was typed is kept
    assert await subscriber(p, "not-an-address") is None
    no_csrf = await client.post("/subscribe", data={"email": "x@example.org", "follow": "KZ"})
    assert no_csrf.status_code == 403
    assert await subscriber(p, "x@example.org") is None


async def test_floods_are_refused(site: tuple[Pipeline, httpx.AsyncClient]) -> None:
    _, client = site
    token = await form(client)
    codes = []
    for _ in range(5):
        response = await client.post(
            "/subscribe", data={"csrf": token, "email": "flood@example.org", "follow": "KZ"}
        )
        codes.append(response.status_code)
    assert codes == [200, 200, 200, 429, 429]


async def test_join_a_list_and_expired_or_forged_confirmations(
    site: tuple[Pipeline, httpx.AsyncClient], settings: Settings
) -> None:
    p, client = site
    token = await form(client, "/lists/kazakhstan-prayer-chain")
    response = await client.post(
        "/lists/kazakhstan-prayer-chain", data={"csrf": token, "email": "joiner@example.org"}
    )
    assert response.status_code == 200
    joiner = await subscriber(p, "joiner@example.org")
    assert joiner is not None
    async with p.store.read() as session:
        member = await session.scalar(
            select(ListMember).where(ListMember.subscriber_id == joiner.id)
        )
        assert member is not None
        assert member.source is MemberSource.SELF
    links = Links.from_settings(settings)
    expired = links.confirm_url(joiner.id, 1).rsplit("/", 1)[1]
    from notifier.links import BadToken

    with pytest.raises(BadToken):
        links.verify_confirm(expired, max_age=-1)
    forged = await client.post("/confirm/1.1.forged")
    assert forged.status_code == 404
    assert (await client.get("/lists/no-such-list")).status_code == 404


@pytest.mark.parametrize("status", [Status.UNSUBSCRIBED, Status.BOUNCED])
async def test_typing_someone_elses_address_changes_nothing_they_have(
    site: tuple[Pipeline, httpx.AsyncClient], smtp_server: SmtpServer, status: Status
) -> None:
    """Ben left email (or his address bounced) but gets news in Telegram. A stranger types his
    address into a list's sign-up form: his status, Telegram and lists stay as they were. Only
    his own click on the confirmation link brings him back (a bounced address gets none)."""
    p, client = site
    async with p.store.transaction() as session:
        session.add(
            Subscriber(email="ben@example.org", name="Ben", status=status, telegram_chat_id=77)
        )
    slug = "kazakhstan-prayer-chain"
    token = await form(client, f"/lists/{slug}")
    sent = await client.post(
        f"/lists/{slug}", data={"csrf": token, "email": "ben@example.org", "name": "Not Ben"}
    )
    assert "Check your inbox" in sent.text  # the same answer as for anyone
    ben = await subscriber(p, "ben@example.org")
    assert ben is not None
    assert (ben.status, ben.name) == (status, "Ben")
    async with p.store.read() as session:
        joined = await session.scalar(select(ListMember).where(ListMember.subscriber_id == ben.id))
    assert joined is None  # not on the list (its Telegram digest would reach him)
    assert (await p.deliverer.drain()).sent == (1 if status is Status.UNSUBSCRIBED else 0)
    if status is Status.BOUNCED:
        return
    [confirmation] = smtp_server.received
    text = confirmation.message.get_body(("plain",))
    assert text is not None
    link = re.search(r"http\S+/confirm/\S+", text.get_content())
    assert link is not None
    done = await client.post(link.group(0))
    assert "is confirmed" in done.text
    back = await subscriber(p, "ben@example.org")
    assert back is not None
    assert back.status is Status.ACTIVE
    async with p.store.read() as session:
        member = await session.scalar(select(ListMember).where(ListMember.subscriber_id == ben.id))
    assert member is not None
    assert member.source is MemberSource.SELF
    # The same link again, after he leaves once more, does not bring him back.
    async with p.store.transaction() as session:
        found = await session.get(Subscriber, ben.id)
        assert found is not None
        found.status = Status.UNSUBSCRIBED
    assert (await client.post(link.group(0))).status_code == 404


async def test_someone_already_subscribed_joins_a_prayer_chain_from_its_page(
    site: tuple[Pipeline, httpx.AsyncClient], smtp_server: SmtpServer
) -> None:
    """Anna gets news of Kazakhstan already. On the prayer chain's page she asks to join: a
    confirmation naming the chain comes (so nobody else can put her on it), and her click adds
    her. Her follows and status stay as they were meanwhile."""
    p, client = site
    async with p.store.transaction() as session:
        session.add(Subscriber(email="anna@example.org", name="Anna", status=Status.ACTIVE))
    slug = "kazakhstan-prayer-chain"
    token = await form(client, f"/lists/{slug}")
    sent = await client.post(f"/lists/{slug}", data={"csrf": token, "email": "anna@example.org"})
    assert "Check your inbox" in sent.text
    anna = await subscriber(p, "anna@example.org")
    assert anna is not None
    assert anna.status is Status.ACTIVE
    assert (await p.deliverer.drain()).sent == 1
    [confirmation] = smtp_server.received
    assert "Kazakhstan prayer chain" in str(confirmation.message["Subject"])
    text = confirmation.message.get_body(("plain",))
    assert text is not None
    link = re.search(r"http\S+/confirm/\S+", text.get_content())
    assert link is not None
    async with p.store.read() as session:
        before = await session.scalar(select(ListMember).where(ListMember.subscriber_id == anna.id))
    assert before is None
    assert "is confirmed" in (await client.post(link.group(0))).text
    async with p.store.read() as session:
        member = await session.scalar(select(ListMember).where(ListMember.subscriber_id == anna.id))
    assert member is not None
    assert member.source is MemberSource.SELF
    # Asking again, now a member: nothing more is sent.
    token = await form(client, f"/lists/{slug}")
    await client.post(f"/lists/{slug}", data={"csrf": token, "email": "anna@example.org"})
    assert (await p.deliverer.drain()).sent == 0


async def test_a_confirmation_asked_for_before_leaving_does_not_bring_someone_back(
    site: tuple[Pipeline, httpx.AsyncClient], smtp_server: SmtpServer
) -> None:
    p, client = site
    async with p.store.transaction() as session:
        session.add(Subscriber(email="anna@example.org", name="Anna", status=Status.ACTIVE))
    slug = "kazakhstan-prayer-chain"
    token = await form(client, f"/lists/{slug}")
    await client.post(f"/lists/{slug}", data={"csrf": token, "email": "anna@example.org"})
    assert (await p.deliverer.drain()).sent == 1
    text = smtp_server.received[0].message.get_body(("plain",))
    assert text is not None
    link = re.search(r"http\S+/confirm/\S+", text.get_content())
    assert link is not None
    anna = await subscriber(p, "anna@example.org")
    assert anna is not None
    unsubscribe = Links.from_settings(p.settings).unsubscribe_url(anna.id, anna.token_version)
    await client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert (await client.post(link.group(0))).status_code == 404
    gone = await subscriber(p, "anna@example.org")
    assert gone is not None
    assert gone.status is Status.UNSUBSCRIBED


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("name", "a\x00b", "Name: must not contain a NUL character (U+0000) at character 2."),
        ("name", "Anna\r\nBcc: x@example.org", "Name: must be one line: a line break (U+000D)"),
        ("email", "anna\x00@example.org", "Email: must not contain a NUL character (U+0000)"),
        ("follow", "Kazakhstan\x1b", "Countries and people: must not contain control characters"),
        ("cadence", "weekly\x00", "How often: must not contain a NUL character (U+0000)"),
    ],
)
async def test_control_characters_in_a_form_are_named_and_nothing_is_written(
    site: tuple[Pipeline, httpx.AsyncClient], field: str, value: str, problem: str
) -> None:
    """PostgreSQL answered 500 to a NUL in the name; SQLite stored it."""
    p, client = site
    fields = {"email": "anna@example.org", "name": "Anna", "follow": "KZ", "cadence": "weekly"}
    for path in ("/subscribe", "/lists/kazakhstan-prayer-chain"):
        token = await form(client, path)
        response = await client.post(path, data={"csrf": token, **fields, field: value})
        assert response.status_code == 400
        assert problem in response.text
        assert "\x00" not in response.text  # what was typed comes back without it
    assert await subscriber(p, "anna@example.org") is None
    async with p.store.read() as session:
        assert list(await session.scalars(select(OutboxMessage.id))) == []


async def test_a_list_slug_that_cannot_be_one_is_not_looked_up(
    site: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    _, client = site
    for path in ("/lists/a%00b", "/lists/Kazakhstan%0A", "/lists/%C2%9B"):
        assert (await client.get(path)).status_code == 404
        assert (await client.post(path, data={"email": "a@example.org"})).status_code == 404
