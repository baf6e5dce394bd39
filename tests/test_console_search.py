"""The console's Subscribers, Outbox and Bounces data (notifier.app): search and pages, what a
coordinator may see of them, and bad input refused naming its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from notifier import app
from notifier.domain import (
    Cadence,
    CaseStatus,
    Channel,
    Consent,
    MemberSource,
    MessageKind,
    OutboxStatus,
    Role,
    Scope,
    SubscriberStatus,
)
from notifier.domain.actors import Actor
from notifier.errors import ForbiddenError, InputError, NotFoundError
from notifier.store.engine import Store
from notifier.store.models import (
    Case,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
)

OWNER = Actor.cli("tester")
EDITOR = Actor.console_user("ed@example.org", Role.EDITOR, frozenset())
COORDINATOR = Actor.console_user("co@example.org", Role.COORDINATOR, frozenset({"chain-a"}))
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
EXTRA = 7  # subscribers beyond the five named ones, for pages


def _fields(error: InputError) -> list[str]:
    return [p.field for p in error.problems]


@pytest.fixture
async def people(store: Store) -> dict[str, int]:
    """Four named subscribers on two lists, and a few more; outbox rows for two of them."""
    async with store.transaction() as session:
        anna_case = Case(slug="anna", name="Anna", country="KZ", status=CaseStatus.DETAINED)
        petr_case = Case(slug="petr", name="Petr", country="RU", status=CaseStatus.SENTENCED)
        chain_a = MailingList(slug="chain-a", name="Chain A")
        chain_b = MailingList(slug="chain-b", name="Chain B")
        session.add_all([anna_case, petr_case, chain_a, chain_b])
        await session.flush()
        anna = Subscriber(
            email="anna.ivanova@example.org",
            name="Anna Ivanova",
            consent=Consent.SIGNUP,
            confirmed_at=T0,
            created_at=T0,
        )
        bob = Subscriber(email="bob@gmail.com", name="Bob", status=SubscriberStatus.BOUNCED)
        carol = Subscriber(
            email="carol@example.org",
            name="Carol IVANOVA",
            soft_bounces=2,
            soft_bounce_last=T0,
            paused_until=datetime.now(UTC) + timedelta(days=3),
        )
        dmitri = Subscriber(email=None, name="Dmitri 100%", telegram_chat_id=12345)
        # Cyrillic: PostgreSQL finds her in any case; SQLite folds ASCII letters only.
        ludmila = Subscriber(email="l@example.ru", name="Людмила")
        for person in (ludmila, anna, bob, carol, dmitri):
            session.add(person)
            await session.flush()
        extra = [Subscriber(email=f"p{i}@example.net", name=f"P{i}") for i in range(EXTRA)]
        session.add_all(extra)
        await session.flush()
        session.add_all(
            [
                Subscription(
                    subscriber_id=anna.id, scope=Scope.COUNTRY, country="KZ", target="country:KZ"
                ),
                Subscription(
                    subscriber_id=bob.id,
                    scope=Scope.CASE,
                    case_id=petr_case.id,
                    target=f"case:{petr_case.id}",
                    cadence=Cadence.WEEKLY,
                ),
                ListMember(list_id=chain_a.id, subscriber_id=anna.id, source=MemberSource.FILE),
                ListMember(list_id=chain_b.id, subscriber_id=bob.id, source=MemberSource.IMPORT),
                ListMember(list_id=chain_a.id, subscriber_id=carol.id, source=MemberSource.SELF),
                ListMember(list_id=chain_b.id, subscriber_id=carol.id, source=MemberSource.FILE),
            ]
        )

        def message(who: Subscriber, n: int, **fields: object) -> OutboxMessage:
            values: dict[str, object] = {
                "channel": Channel.EMAIL,
                "recipient": f"subscriber:{who.id}",
                "subscriber_id": who.id,
                "key": f"alert:{n}",
                "kind": MessageKind.ALERT,
                "status": OutboxStatus.SENT,
                "created_at": T0 + timedelta(days=n),
            }
            return OutboxMessage(**(values | fields))

        session.add_all(
            [
                message(anna, 1),
                message(
                    anna,
                    2,
                    status=OutboxStatus.FAILED,
                    last_error="550 no such user",
                    kind=MessageKind.DIGEST,
                    key="digest:x:2026-W45",
                ),
                message(anna, 3, status=OutboxStatus.PENDING, channel=Channel.TELEGRAM),
                message(bob, 4, last_error="bounced after it was sent: 550 5.1.1 unknown"),
                message(bob, 5),
            ]
        )
    return {"anna": anna.id, "bob": bob.id, "carol": carol.id, "dmitri": dmitri.id}


async def _names(store: Store, by: Actor = OWNER, **filters: object) -> list[str]:
    page = await app.search_subscribers(store, by, **filters)  # type: ignore[arg-type]
    return [hit.name for hit in page.items]


async def test_search_by_text_status_follows_and_list(store: Store, people: dict[str, int]) -> None:
    # Anywhere in the address or the name, any case; newest first.
    assert await _names(store, text="IVANOV") == ["Carol IVANOVA", "Anna Ivanova"]
    # Three characters or more: through the trigram indexes on PostgreSQL; fewer: a scan.
    # The same answers either way.
    assert await _names(store, text="vAn") == ["Carol IVANOVA", "Anna Ivanova"]
    assert await _names(store, text="Va") == ["Carol IVANOVA", "Anna Ivanova"]
    assert await _names(store, text="gmail") == ["Bob"]
    folded = ["Людмила"] if store.dialect == "postgresql" else []
    assert await _names(store, text="ЛЮДМИЛА") == folded
    assert await _names(store, text="Людм") == ["Людмила"]
    assert await _names(store, text="12345") == ["Dmitri 100%"]
    # LIKE's wildcards are plain characters to a search.
    assert await _names(store, text="0%") == ["Dmitri 100%"]
    assert await _names(store, text="_") == []
    assert await _names(store, text="  ") == await _names(store, limit=200)
    assert await _names(store, status="bounced") == ["Bob"]
    assert await _names(store, country="Kazakhstan") == ["Anna Ivanova"]
    assert await _names(store, case="petr") == ["Bob"]
    assert await _names(store, mailing_list="chain-b") == ["Carol IVANOVA", "Bob"]
    assert await _names(store, mailing_list="chain-a", text="ivanova", status="active") == [
        "Carol IVANOVA",
        "Anna Ivanova",
    ]
    hits = (await app.search_subscribers(store, OWNER, text="carol")).items
    assert hits[0].lists == ["chain-a", "chain-b"]
    assert hits[0].paused_until is not None


async def test_pages_follow_one_another_to_the_end(store: Store, people: dict[str, int]) -> None:
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        page = await app.search_subscribers(store, OWNER, after=after, limit=3)
        seen += [hit.id for hit in page.items]
        pages += 1
        if not page.more:
            break
        after = page.next
    assert len(seen) == 5 + EXTRA
    assert seen == sorted(seen, reverse=True)
    assert pages == -(-(5 + EXTRA) // 3)


async def test_a_coordinator_sees_only_members_of_their_lists(
    store: Store, people: dict[str, int]
) -> None:
    assert await _names(store, COORDINATOR) == ["Carol IVANOVA", "Anna Ivanova"]
    assert await _names(store, COORDINATOR, text="gmail") == []
    hits = (await app.search_subscribers(store, COORDINATOR, text="carol")).items
    assert hits[0].lists == ["chain-a"]  # not the other list she is on
    with pytest.raises(ForbiddenError):
        await app.search_subscribers(store, COORDINATOR, mailing_list="chain-b")
    with pytest.raises(ForbiddenError):  # a list that does not exist tells nothing either
        await app.search_subscribers(store, COORDINATOR, mailing_list="no-such-list")
    with pytest.raises(ForbiddenError):
        await app.subscriber_page(store, COORDINATOR, people["bob"])
    carol = await app.subscriber_page(store, COORDINATOR, people["carol"])
    assert [m.list for m in carol.memberships] == ["chain-a"]
    for refused in (app.outbox_page(store, COORDINATOR), app.bounces_page(store, COORDINATOR)):
        with pytest.raises(ForbiddenError):
            await refused


async def test_bad_search_input_is_refused_naming_the_field(
    store: Store, people: dict[str, int]
) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"text": "anna\x00"}, "text"),
        ({"text": "a" * 321}, "text"),
        ({"text": "two\nlines"}, "text"),
        ({"after": "abc"}, "after"),
        ({"after": "1" * 40}, "after"),
        ({"after": "-5"}, "after"),
        ({"after": "99999999999"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"status": "gone"}, "status"),
        ({"case": "x\x00"}, "case"),
        ({"mailing_list": "x" * 500}, "mailing_list"),
        ({"country": "\x00"}, "country"),
    ]
    for filters, field in cases:
        with pytest.raises(InputError) as caught:
            await app.search_subscribers(store, OWNER, **filters)  # type: ignore[arg-type]
        assert _fields(caught.value) == [field], filters
    unknown: list[dict[str, str]] = [
        {"case": "nobody"},
        {"mailing_list": "nowhere"},
        {"country": "Atlantis"},
    ]
    for names in unknown:
        with pytest.raises(NotFoundError):
            await app.search_subscribers(store, OWNER, **names)  # type: ignore[arg-type]


async def test_a_subscribers_page(store: Store, people: dict[str, int]) -> None:
    anna = await app.subscriber_page(store, EDITOR, people["anna"])
    assert anna.email == "anna.ivanova@example.org"
    assert anna.follows == ["country=KZ:instant:email"]
    assert [(m.list, m.source) for m in anna.memberships] == [("chain-a", "file")]
    assert (anna.consent.consent, anna.consent.confirmed_at) == ("signup", T0)
    assert [(m.status, m.channel, m.kind) for m in anna.messages.items] == [
        ("pending", "telegram", "alert"),
        ("failed", "email", "digest"),
        ("sent", "email", "alert"),
    ]
    assert anna.messages.items[1].last_error == "550 no such user"
    assert not anna.messages.more
    assert not anna.bounces.bounced

    first = await app.subscriber_page(store, OWNER, people["anna"], messages_limit=2)
    assert [m.status for m in first.messages.items] == ["pending", "failed"]
    rest = await app.subscriber_page(
        store, OWNER, people["anna"], messages_after=first.messages.next
    )
    assert [m.status for m in rest.messages.items] == ["sent"]

    bob = await app.subscriber_page(store, OWNER, people["bob"])
    assert bob.follows == ["case=petr:weekly:email"]
    assert bob.bounces.bounced
    assert bob.bounces.last_report == "bounced after it was sent: 550 5.1.1 unknown"
    carol = await app.subscriber_page(store, OWNER, people["carol"])
    assert (carol.bounces.soft_bounces, carol.bounces.soft_bounce_last) == (2, T0)
    assert carol.paused_until is not None
    assert [(m.list, m.source) for m in carol.memberships] == [
        ("chain-a", "self"),
        ("chain-b", "file"),
    ]

    for missing in (10**9, 10**12, 0, -1):
        with pytest.raises(NotFoundError):
            await app.subscriber_page(store, OWNER, missing)
    with pytest.raises(InputError) as caught:
        await app.subscriber_page(store, OWNER, people["anna"], messages_after="x")
    assert _fields(caught.value) == ["messages_after"]


async def test_the_outbox_filtered_a_page_at_a_time(store: Store, people: dict[str, int]) -> None:
    every = await app.outbox_page(store, EDITOR)
    keys = ["alert:5", "alert:4", "alert:3", "digest:x:2026-W45", "alert:1"]
    assert [m.key for m in every.items] == keys
    failed = await app.outbox_page(store, EDITOR, status="failed")
    assert [(m.key, m.last_error, m.email) for m in failed.items] == [
        ("digest:x:2026-W45", "550 no such user", "anna.ivanova@example.org")
    ]
    assert [m.key for m in (await app.outbox_page(store, OWNER, channel="telegram")).items] == [
        "alert:3"
    ]
    assert [m.kind for m in (await app.outbox_page(store, OWNER, kind="digest")).items] == [
        "digest"
    ]
    dated = await app.outbox_page(
        store, OWNER, since=T0 + timedelta(days=2), until=T0 + timedelta(days=4)
    )
    assert [m.key for m in dated.items] == ["alert:3", "digest:x:2026-W45"]
    first = await app.outbox_page(store, OWNER, limit=2)
    second = await app.outbox_page(store, OWNER, limit=2, after=first.next)
    assert [m.key for m in first.items + second.items] == [m.key for m in every.items][:4]

    naive = datetime(2026, 11, 1)
    cases: list[tuple[dict[str, object], str]] = [
        ({"status": "lost"}, "status"),
        ({"channel": "pigeon"}, "channel"),
        ({"kind": "x\x00"}, "kind"),
        ({"since": naive}, "since"),
        ({"until": naive}, "until"),
        ({"since": T0, "until": T0}, "until"),
        ({"after": "1.5"}, "after"),
        ({"after": "123"}, "after"),
        ({"after": "99999999999999999999-1"}, "after"),
        ({"after": "1-99999999999"}, "after"),
        ({"limit": -1}, "limit"),
    ]
    for filters, field in cases:
        with pytest.raises(InputError) as caught:
            await app.outbox_page(store, OWNER, **filters)  # type: ignore[arg-type]
        assert _fields(caught.value) == [field], filters


async def test_bounces(store: Store, people: dict[str, int]) -> None:
    both = await app.bounces_page(store, EDITOR)
    assert [(b.email, b.status, b.soft_bounces) for b in both.items] == [
        ("carol@example.org", "active", 2),
        ("bob@gmail.com", "bounced", 0),
    ]
    assert both.items[1].last_report == "bounced after it was sent: 550 5.1.1 unknown"
    assert both.items[0].last_report is None
    bounced = await app.bounces_page(store, OWNER, which="bounced")
    assert [b.email for b in bounced.items] == ["bob@gmail.com"]
    soft = await app.bounces_page(store, OWNER, which="soft", limit=1)
    assert [b.email for b in soft.items] == ["carol@example.org"]
    assert not soft.more
    with pytest.raises(InputError) as caught:
        await app.bounces_page(store, OWNER, which="hard")
    assert _fields(caught.value) == ["which"]


async def test_the_pages_queries_use_their_indexes(store: Store, people: dict[str, int]) -> None:
    """The outbox grows to millions of rows: a subscriber's messages and the failed ones are
    each a range of an index, not a scan of the table."""
    async with store.read() as session:
        postgres = store.dialect == "postgresql"
        explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
        if postgres:  # a handful of rows: make the planner show what it would do with many
            await session.execute(text("SET LOCAL enable_seqscan = off"))

        async def plan(sql: str) -> str:
            rows = (await session.execute(text(f"{explain} {sql}"))).all()
            return "\n".join(str(r[-1]) for r in rows)

        history = await plan(
            "SELECT id FROM outbox WHERE subscriber_id = 1 ORDER BY id DESC LIMIT 51"
        )
        assert "ix_outbox_subscriber" in history
        newest = "ORDER BY created_at DESC, id DESC LIMIT 51"
        failed = await plan(f"SELECT id FROM outbox WHERE status = 'failed' {newest}")
        assert "ix_outbox_failed" in failed
        dated = await plan(f"SELECT id FROM outbox WHERE created_at >= '2026-11-01' {newest}")
        assert "ix_outbox_created" in dated
        if postgres:  # the text search: the trigram indexes of migration 0024
            found = await plan(
                "SELECT id FROM subscribers WHERE email LIKE '%ivanov%' ESCAPE '/' "
                "OR name ILIKE '%Ivanov%' ESCAPE '/'"
            )
            assert "ix_subscribers_email_trgm" in found
            assert "ix_subscribers_name_trgm" in found
