"""The console's list pages, application layer (issue 12): each task checked against who acts
(owners all, editors read, coordinators only their own lists), lists kept in files read-only,
bad input named field by field with nothing half-written, members paged, imported and
exported, and a list's digest previewed, sent now (once, whatever the schedule does after) and
listed in its archive with its web copy. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from notifier import app as tasks
from notifier.app import list_console
from notifier.config import Settings
from notifier.digests import plan_list_digests
from notifier.domain import Channel
from notifier.domain.actors import Actor
from notifier.domain.vocabulary import Role
from notifier.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from notifier.ingest.list_files import load_list_files
from notifier.ingest.subscriber_csv import COLUMNS, read_subscriber_csv, write_subscriber_csv
from notifier.links import Links
from notifier.service import Pipeline, pipeline
from notifier.store import audit
from notifier.store.as_json import member_rows, subscriber_row
from notifier.store.engine import create_engine
from notifier.store.lists import apply_lists
from notifier.store.migrate import upgrade
from notifier.store.models import AuditEntry, Body, MailingList, Subscriber, utcnow
from notifier.store.preferences import leave_list
from notifier.store.subscribers import get_list, get_subscriber, list_subscribers
from tests.helpers import CHAIN, EXAMPLE_LISTS, PASTOR, maildir, new_update, seed, text_of

OWNER = Actor.cli("tester")
EDITOR = Actor.console_user("editor@example.org", Role.EDITOR, frozenset())
MINE = "almaty-friends"
COORDINATOR = Actor.console_user("coord@example.org", Role.COORDINATOR, frozenset({MINE}))

NEW_LIST: dict[str, Any] = {
    "slug": MINE,
    "name": "Almaty friends",
    "description": "News of Kazakhstan, each Friday.",
    "follows": ["country=KZ"],
    "cadence": "weekly",
    "schedule": "fri 18:00",
    "time_zone": "Asia/Almaty",
    "channels": ["email"],
    "protect_content": True,
}


@pytest.fixture
async def p(settings: Settings) -> AsyncIterator[Pipeline]:
    """The sample cases, the example list (kept in its file) and MINE, made in the console."""
    async with pipeline(settings) as opened:
        await seed(opened)
        saved = await tasks.save_list(opened.store, settings, OWNER, NEW_LIST)
        assert saved == tasks.ListSaved(MINE, True, [])
        yield opened


async def audit_log(p: Pipeline) -> list[AuditEntry]:
    async with p.store.read() as session:
        return list(reversed(await audit.entries(session)))


async def count(p: Pipeline, model: type[Any]) -> int:
    async with p.store.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- who may do what ---------------------------------------------------------------------------


async def test_a_coordinator_runs_their_own_list_and_no_other(p: Pipeline) -> None:
    s = p.settings
    assert [x["slug"] for x in await tasks.lists_for(p.store, COORDINATOR)] == [MINE]
    assert {x["slug"] for x in await tasks.lists_for(p.store, EDITOR)} == {CHAIN, MINE}
    mine = await tasks.list_detail(p.store, COORDINATOR, MINE)
    assert mine["editable"]
    assert mine["manageable"]
    assert mine["origin"] == "console"
    assert mine["next_digest"] is not None

    # Their list: every task works.
    await tasks.save_list(p.store, s, COORDINATOR, NEW_LIST | {"name": "Almaty"}, slug=MINE)
    await tasks.add_list_member(p.store, s, COORDINATOR, MINE, "ruth@example.org")
    await tasks.list_members(p.store, COORDINATOR, MINE)
    await tasks.export_list_members(p.store, COORDINATOR, MINE)
    await tasks.digest_preview(p.store, s, COORDINATOR, MINE)
    await tasks.send_now(p.store, s, COORDINATOR, MINE)
    await tasks.digest_archive(p.store, s, COORDINATOR, MINE)
    await tasks.remove_list_member(p.store, COORDINATOR, MINE, "ruth@example.org")

    # Another list, a list that does not exist, a new list: refused, before any lookup (the
    # same answer whether the list exists or not).
    for slug in (CHAIN, "no-such-list"):
        calls = [
            tasks.list_detail(p.store, COORDINATOR, slug),
            tasks.save_list(p.store, s, COORDINATOR, NEW_LIST | {"slug": slug}, slug=slug),
            tasks.list_members(p.store, COORDINATOR, slug),
            tasks.add_list_member(p.store, s, COORDINATOR, slug, "ruth@example.org"),
            tasks.remove_list_member(p.store, COORDINATOR, slug, "anna.petrova@example.org"),
            tasks.import_list_members(
                p.store, s, COORDINATOR, slug, "email\nruth@example.org\n", name="x.csv"
            ),
            tasks.export_list_members(p.store, COORDINATOR, slug),
            tasks.digest_preview(p.store, s, COORDINATOR, slug),
            tasks.send_now(p.store, s, COORDINATOR, slug),
            tasks.digest_archive(p.store, s, COORDINATOR, slug),
        ]
        for call in calls:
            with pytest.raises(ForbiddenError, match=slug):
                await call
    with pytest.raises(ForbiddenError):
        await tasks.save_list(p.store, s, COORDINATOR, NEW_LIST | {"slug": "their-own-new"})

    # An editor reads every list and changes none.
    assert (await tasks.list_detail(p.store, EDITOR, CHAIN))["manageable"] is False
    await tasks.list_members(p.store, EDITOR, CHAIN)
    await tasks.digest_preview(p.store, s, EDITOR, MINE)
    for call in [
        tasks.save_list(p.store, s, EDITOR, NEW_LIST, slug=MINE),
        tasks.add_list_member(p.store, s, EDITOR, MINE, "ruth@example.org"),
        tasks.remove_list_member(p.store, EDITOR, MINE, "ruth@example.org"),
        tasks.send_now(p.store, s, EDITOR, MINE),
    ]:
        with pytest.raises(ForbiddenError):
            await call
    # The owner meets a missing list as missing.
    with pytest.raises(NotFoundError):
        await tasks.list_detail(p.store, OWNER, "no-such-list")

    actions = [(e.actor, e.action, e.target) for e in await audit_log(p)]
    assert actions[0] == ("cli:tester", "list.create", MINE)
    assert ("user:coord@example.org", "list.edit", MINE) in actions
    assert ("user:coord@example.org", "list.add-member", f"{MINE}: ruth@example.org") in actions
    assert ("user:coord@example.org", "list.remove-member", f"{MINE}: ruth@example.org") in actions
    assert all(actor != "user:editor@example.org" for actor, _, _ in actions)


# --- settings ----------------------------------------------------------------------------------


async def test_every_bad_field_is_named_and_nothing_is_written(p: Pipeline) -> None:
    before = (await count(p, MailingList), await count(p, AuditEntry))
    bad = {
        "slug": "Bad Slug!",
        "name": "Nul\x00here",
        "description": "x" * 2_001,
        "follows": ["country=ZZ", "case=nobody"],
        "cadence": "hourly",
        "schedule": "someday 25:00",
        "time_zone": "Mars/Olympus",
        "channels": ["fax"],
        "template": "Not A Folder",
        "protect_content": "perhaps",
        "members": ["someone@example.org"],
    }
    with pytest.raises(InputError) as raised:
        await tasks.save_list(p.store, p.settings, OWNER, bad)
    fields = {problem.field.split(".")[0] for problem in raised.value.problems}
    assert fields >= {
        "slug", "name", "description", "follows", "cadence", "time_zone", "channels",
        "template", "protect_content", "members",
    }, raised.value.problems  # fmt: skip
    assert "NUL" in str(raised.value)
    assert "2,001 characters; at most 2,000" in str(raised.value)

    # A schedule that does not fit its cadence; a case the store does not know, named with
    # another bad field; a template name longer than the store keeps.
    with pytest.raises(InputError) as raised:
        await tasks.save_list(
            p.store, p.settings, OWNER,
            NEW_LIST | {"slug": "other", "schedule": "07:00", "template": "t" * 61},
        )  # fmt: skip
    assert {x.field for x in raised.value.problems} == {"schedule", "template"}
    with pytest.raises(InputError) as raised:
        await tasks.save_list(
            p.store, p.settings, OWNER,
            NEW_LIST | {"slug": "other", "name": "", "follows": ["case=nobody"]},
        )  # fmt: skip
    assert {x.field for x in raised.value.problems} == {"name", "follows.0"}
    # A list's own templates that do not exist.
    with pytest.raises(InputError, match="template"):
        await tasks.save_list(
            p.store, p.settings, OWNER, NEW_LIST | {"slug": "other", "template": "missing"}
        )
    # Editing: a bad field leaves the list as it was.
    with pytest.raises(InputError):
        await tasks.save_list(
            p.store, p.settings, OWNER, NEW_LIST | {"name": "Renamed", "cadence": "x"}, slug=MINE
        )
    assert (await tasks.list_detail(p.store, OWNER, MINE))["name"] == "Almaty friends"
    with pytest.raises(InputError, match="cannot be changed"):
        await tasks.save_list(p.store, p.settings, OWNER, NEW_LIST | {"slug": "x"}, slug=MINE)
    with pytest.raises(ConflictError, match="already"):
        await tasks.save_list(p.store, p.settings, OWNER, NEW_LIST)
    assert (await count(p, MailingList), await count(p, AuditEntry)) == before


async def test_an_edit_changes_the_list_and_the_audit_log_says_what_it_was(p: Pipeline) -> None:
    edited = NEW_LIST | {"cadence": "daily", "schedule": "06:30", "follows": ["all"]}
    saved = await tasks.save_list(p.store, p.settings, OWNER, edited, slug=MINE)
    assert saved == tasks.ListSaved(MINE, False, ["cadence", "schedule", "follows"])
    shown = await tasks.list_detail(p.store, OWNER, MINE)
    assert (shown["cadence"], shown["schedule"], shown["follows"]) == ("daily", "06:30", ["all"])
    entry = (await audit_log(p))[-1]
    assert entry.action == "list.edit"
    assert entry.summary == {
        "before": {"cadence": "weekly", "schedule": "fri 18:00", "follows": ["country=KZ"]},
        "after": {"cadence": "daily", "schedule": "06:30", "follows": ["all"]},
    }
    # Saved again as it is: nothing changes, nothing is logged.
    again = await tasks.save_list(p.store, p.settings, OWNER, edited, slug=MINE)
    assert again.changed == []
    assert (await audit_log(p))[-1].id == entry.id


async def test_a_list_kept_in_a_file_is_read_only_but_takes_members(p: Pipeline) -> None:
    chain = await tasks.list_detail(p.store, OWNER, CHAIN)
    assert chain["origin"] == "file"
    assert not chain["editable"]
    assert chain["manageable"]
    assert "list file" in chain["note"]
    with pytest.raises(ConflictError, match="lists apply"):
        await tasks.save_list(
            p.store, p.settings, OWNER, {"name": "Renamed", "follows": ["all"]}, slug=CHAIN
        )
    # The file's members are taken off in the file; others come and go here, and the file,
    # applied again, keeps them.
    with pytest.raises(ConflictError, match="named in the list's file"):
        await tasks.remove_list_member(p.store, OWNER, CHAIN, "anna.petrova@example.org")
    await tasks.add_list_member(p.store, p.settings, OWNER, CHAIN, "ruth@example.org")
    async with p.store.transaction() as session:
        await apply_lists(session, load_list_files([EXAMPLE_LISTS]), p.settings)
    members = (await tasks.list_members(p.store, OWNER, CHAIN)).members
    assert "ruth@example.org" in [m["email"] for m in members]
    removed = await tasks.remove_list_member(p.store, OWNER, CHAIN, "Ruth@Example.org")
    assert removed == tasks.MemberChange("ruth@example.org", True)
    assert not (await tasks.remove_list_member(p.store, OWNER, CHAIN, "ruth@example.org")).changed

    # A list file that names a list made in the console takes it over.
    spec = load_list_files([EXAMPLE_LISTS])[0]
    taken = spec[1].model_copy(update={"slug": MINE})
    async with p.store.transaction() as session:
        changes = await apply_lists(session, [(spec[0], taken)], p.settings)
    assert "origin" in changes[0].settings_changed
    assert (await tasks.list_detail(p.store, OWNER, MINE))["editable"] is False


# --- members -----------------------------------------------------------------------------------


async def test_members_page_add_and_who_left_stays_off(p: Pipeline) -> None:
    s = p.settings
    for i in range(5):
        added = await tasks.add_list_member(p.store, s, OWNER, MINE, f"m{i}@example.org")
        assert added == tasks.MemberChange(f"m{i}@example.org", True)
    assert not (await tasks.add_list_member(p.store, s, OWNER, MINE, "m0@example.org")).changed
    seen, after, pages = [], None, 0
    while True:
        page = await tasks.list_members(p.store, OWNER, MINE, after=after, limit=2)
        assert page.total == 5
        seen += [m["email"] for m in page.members]
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert (seen, pages) == ([f"m{i}@example.org" for i in range(5)], 3)
    with pytest.raises(InputError, match="limit"):
        await tasks.list_members(p.store, OWNER, MINE, limit=0)

    # Someone who left by themselves is not put back, one by one or by a file.
    async with p.store.transaction() as session:
        who = await get_subscriber(session, "m1@example.org")
        assert await leave_list(session, who.id, (await get_list(session, MINE)).id)
    with pytest.raises(ConflictError, match="left the list"):
        await tasks.add_list_member(p.store, s, OWNER, MINE, "m1@example.org")
    imported = await tasks.import_list_members(
        p.store, s, OWNER, MINE, "email\nm1@example.org\nm9@example.org\n", name="more.csv"
    )
    assert (imported.joined, imported.left_list) == (["m9@example.org"], ["m1@example.org"])

    # Bad input: each field named; nothing written.
    with pytest.raises(InputError) as raised:
        await tasks.add_list_member(p.store, s, OWNER, MINE, "not an address", name="a\x00b")
    assert {x.field for x in raised.value.problems} == {"email", "name"}
    with pytest.raises(InputError, match="email"):
        await tasks.add_list_member(p.store, s, OWNER, MINE, "a@" + "b" * 400 + ".org")


async def test_import_is_all_or_nothing_unless_asked_and_export_reads_back(p: Pipeline) -> None:
    s = p.settings
    text = (
        "Email,Name,lists,follows\n"
        "ruth@example.org,Ruth,other-list,country=KZ\n"
        "not-an-address,Bad,,\n"
        "sam@example.org,Sam\x00,,\n"
        "tom@example.org,Tom,,\n"
    )
    before = await count(p, Subscriber)
    with pytest.raises(InputError) as raised:
        await tasks.import_list_members(p.store, s, OWNER, MINE, text, name="people.csv")
    assert [(x.where, x.field) for x in raised.value.problems] == [
        ("people.csv:3", "email"),
        ("people.csv:4", "name"),
    ]
    assert await count(p, Subscriber) == before

    imported = await tasks.import_list_members(
        p.store, s, OWNER, MINE, text, name="people.csv", skip_invalid=True
    )
    assert imported.joined == ["ruth@example.org", "tom@example.org"]
    assert [x.where for x in imported.skipped] == ["people.csv:3", "people.csv:4"]
    assert any("follows, lists" in note for note in imported.notes), imported.notes
    # The columns not read changed nothing: Ruth follows nothing of her own.
    exported = await tasks.export_list_members(p.store, COORDINATOR, MINE)
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert set(rows) == {"ruth@example.org", "tom@example.org"}
    assert (rows["ruth@example.org"]["name"], rows["ruth@example.org"]["follows"]) == ("Ruth", "")

    # Reimported into the list, the export changes nothing. A coordinator's copy names only
    # their own lists.
    await tasks.add_list_member(p.store, s, OWNER, CHAIN, "tom@example.org")
    assert rows["tom@example.org"]["lists"] == MINE  # exported before Tom joined the chain
    owners = {
        r["email"]: r
        for r in csv.DictReader(io.StringIO(await tasks.export_list_members(p.store, OWNER, MINE)))
    }
    coordinators = {
        r["email"]: r
        for r in csv.DictReader(
            io.StringIO(await tasks.export_list_members(p.store, COORDINATOR, MINE))
        )
    }
    assert coordinators["tom@example.org"]["lists"] == MINE
    assert set(owners["tom@example.org"]["lists"].split()) == {MINE, CHAIN}
    again = await tasks.import_list_members(p.store, s, OWNER, MINE, exported, name="back.csv")
    assert (again.joined, sorted(again.already)) == ([], ["ruth@example.org", "tom@example.org"])
    entries = [e for e in await audit_log(p) if e.action == "list.import-members"]
    assert len(entries) == 1
    assert entries[0].summary["after"]["joined"] == 2


# --- the digest --------------------------------------------------------------------------------


async def test_preview_send_now_once_and_the_archive(p: Pipeline) -> None:
    s = p.settings
    members = ["ruth@example.org", "tom@example.org", "ada@example.org"]
    for email in members:
        await tasks.add_list_member(p.store, s, COORDINATOR, MINE, email)
    empty = await tasks.digest_preview(p.store, s, COORDINATOR, MINE)
    assert empty.messages == {}
    assert "nothing new" in empty.reason
    assert (await tasks.send_now(p.store, s, COORDINATOR, MINE)).messages == 0

    await new_update(p, title="Hearing moved to Friday")
    preview = await tasks.digest_preview(p.store, s, COORDINATOR, MINE)
    email = preview.messages[Channel.EMAIL]
    assert "Almaty friends" in email.subject
    assert "Hearing moved to Friday" in email.text
    assert "Hearing moved to Friday" in email.html
    assert set(preview.messages) == {Channel.EMAIL}  # the list sends by email only
    both = await tasks.digest_preview(p.store, s, EDITOR, CHAIN)  # email and Telegram
    assert set(both.messages) == {Channel.EMAIL, Channel.TELEGRAM}
    assert "Hearing moved to Friday" in both.messages[Channel.TELEGRAM].text
    assert preview.due is not None
    assert preview.due > utcnow()

    sent = await tasks.send_now(p.store, s, COORDINATOR, MINE)
    assert sent == tasks.SentNow(3, False, False)
    # A second click, and the scheduler's run coming at once: nothing more.
    assert (await tasks.send_now(p.store, s, COORDINATOR, MINE)).messages == 0
    assert (await plan_list_digests(p.store, p.renderer, now=utcnow())).messages == 0
    await p.deliverer.drain()
    got = [m for m in maildir(s) if "Almaty friends" in str(m["Subject"])]
    assert sorted(str(m["To"]) for m in got) == sorted(members)
    assert all("Hearing moved to Friday" in text_of(m) for m in got)

    # The scheduled digest on its day holds only what came after.
    await new_update(p, title="Verdict expected")
    due = preview.due
    report = await plan_list_digests(p.store, p.renderer, now=due + timedelta(minutes=1), only=MINE)
    assert report.messages == 3, report.details
    await p.deliverer.drain(now=due + timedelta(minutes=2))
    got = [m for m in maildir(s) if "Almaty friends" in str(m["Subject"])]
    assert sum("Hearing moved to Friday" in text_of(m) for m in got) == 3
    assert sum("Verdict expected" in text_of(m) for m in got) == 3

    archive = await tasks.digest_archive(p.store, s, COORDINATOR, MINE)
    assert len(archive) == 2
    assert archive[0].period > archive[1].period  # newest first
    assert [a.recipients for a in archive] == [3, 3]
    first = archive[1].channels[0]
    assert (first["channel"], first["recipients"]) == ("email", 3)
    delivery = await tasks.digest_delivery(p.store, s, COORDINATOR, MINE, archive[1].period)
    assert delivery.channels == [first | {"sent": 3, "failed": 0, "waiting": 0}]
    assert delivery.last_sent_at is not None
    with pytest.raises(NotFoundError):
        await tasks.digest_delivery(p.store, s, COORDINATOR, MINE, "2020-01-01T00:00Z")
    with pytest.raises(ForbiddenError):
        await tasks.digest_delivery(p.store, s, COORDINATOR, CHAIN, archive[1].period)
    links = Links.from_settings(s)
    body_id = links.verify_digest(first["web_copy"].rsplit("/", 1)[1])
    async with p.store.read() as session:
        body = await session.get(Body, body_id)
        assert body is not None
        assert "Hearing moved to Friday" in body.html
    paged = await tasks.digest_archive(p.store, s, OWNER, MINE, limit=1)
    assert [a.period for a in paged] == [archive[0].period]
    rest = await tasks.digest_archive(p.store, s, OWNER, MINE, before=paged[0].period)
    assert [a.period for a in rest] == [archive[1].period]
    # Another list's digests are in its own archive, not in this one's.
    assert (await tasks.send_now(p.store, s, OWNER, CHAIN)).messages == 4
    assert len(await tasks.digest_archive(p.store, s, OWNER, CHAIN)) == 1
    assert len(await tasks.digest_archive(p.store, s, OWNER, MINE)) == 2
    sends = [e for e in await audit_log(p) if e.action == "list.send-now"]
    assert [(e.actor, e.target, e.summary) for e in sends] == [
        ("user:coord@example.org", MINE, {"after": {"messages": 3}}),
        ("cli:tester", CHAIN, {"after": {"messages": 4}}),
    ]


async def test_every_boundary_refuses_what_the_store_could_not_hold(p: Pipeline) -> None:
    """NUL bytes, over-long text and numbers out of range are refused by name before the
    store sees them (PostgreSQL would refuse a NUL with an error of its own)."""
    s = p.settings
    for slug in ("a\x00b", "x" * 121, "Not-A-Slug"):
        with pytest.raises(NotFoundError, match="no list"):
            await tasks.list_detail(p.store, OWNER, slug)
        with pytest.raises(NotFoundError):
            await tasks.save_list(p.store, s, OWNER, NEW_LIST, slug=slug)
        with pytest.raises(ForbiddenError):
            await tasks.list_members(p.store, COORDINATOR, slug)
    with pytest.raises(InputError) as raised:
        await tasks.save_list(p.store, s, OWNER, NEW_LIST | {"slug": "bad\x00slug"})
    assert [x.field for x in raised.value.problems] == ["slug"]
    for who in ("a\x00b@example.org", "x" * 400 + "@example.org", str(2**63)):
        with pytest.raises(InputError, match=r"\[email\]"):
            await tasks.remove_list_member(p.store, OWNER, MINE, who)
    with pytest.raises(InputError, match=r"\[after\]"):
        await tasks.list_members(p.store, OWNER, MINE, after=2**63)
    with pytest.raises(InputError, match=r"\[limit\]"):
        await tasks.list_members(p.store, OWNER, MINE, limit=10_000)
    for before in ("2026-11-30T02:00Z\x00", "z" * 500):
        with pytest.raises(InputError, match=r"\[before\]"):
            await tasks.digest_archive(p.store, s, OWNER, MINE, before=before)
    with pytest.raises(InputError, match=r"\[recent\]"):
        await tasks.digest_preview(p.store, s, OWNER, MINE, recent=-1)
    with pytest.raises(InputError, match=r"\[name\]"):
        await tasks.import_list_members(p.store, s, OWNER, MINE, "email\n", name="f\x00.csv")


async def test_a_list_follows_cases_by_slug(p: Pipeline) -> None:
    saved = await tasks.save_list(
        p.store, p.settings, OWNER,
        NEW_LIST | {"follows": ["case=kashkumbaev", "country=KZ"]}, slug=MINE,
    )  # fmt: skip
    assert saved.changed == ["follows"]
    shown = await tasks.list_detail(p.store, OWNER, MINE)
    # A case by any of its spellings, kept by its slug.
    assert sorted(shown["follows"]) == [f"case={PASTOR}", "country=KZ"]
    entry = (await audit_log(p))[-1]
    assert entry.summary["after"]["follows"] == shown["follows"]
    again = NEW_LIST | {"follows": ["country=KZ", f"case={PASTOR}"]}
    assert (await tasks.save_list(p.store, p.settings, OWNER, again, slug=MINE)).changed == []


@pytest.mark.empty_database
async def test_the_migration_keeps_lists_as_file_lists_and_archives_their_digests(
    settings: Settings,
) -> None:
    """Lists from before the console came from files; the digests the outbox holds fill the
    archive, one row per list, period and channel."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine, "0020")
        now = utcnow()
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO mailing_lists (id, slug, name, description, cadence, schedule, "
                    "time_zone, channels, protect_content, created_at, updated_at) VALUES "
                    "(5, 'five', 'Five', '', 'weekly', 'mon 07:00', 'UTC', '[\"email\"]', "
                    "false, :now, :now)"
                ),
                {"now": now},
            )
            rows = [
                ("email", f"subscriber:{i}", "digest:list:5:2026-11-30T02:00Z", 7) for i in range(3)
            ] + [
                ("telegram", "chat:-100", "digest:list:5:2026-11-30T02:00Z", 8),
                ("email", "subscriber:1", "digest:list:5:2026-11-23T02:00Z", 6),
                ("email", "subscriber:1", "digest:subscriber:1:weekly:email:2026-11-30T02:00Z", 9),
            ]
            for channel, recipient, key, body in rows:
                await conn.execute(
                    text(
                        "INSERT INTO outbox (channel, recipient, key, kind, list_id, body_id, "
                        "status, attempts, next_attempt_at, created_at, parts_sent) VALUES "
                        "(:channel, :recipient, :key, 'digest', :list_id, :body, 'sent', 1, "
                        ":now, :now, 0)"
                    ),
                    {
                        "channel": channel, "recipient": recipient, "key": key, "body": body,
                        "now": now, "list_id": 5 if ":list:" in key else None,
                    },
                )  # fmt: skip
        await upgrade(engine)
        async with engine.connect() as conn:
            origin = await conn.scalar(text("SELECT origin FROM mailing_lists"))
            archived = list(
                await conn.execute(
                    text(
                        "SELECT list_id, period, channel, body_id, recipients FROM list_digests "
                        "ORDER BY period, channel"
                    )
                )
            )
        assert origin == "file"
        assert [tuple(r) for r in archived] == [
            (5, "2026-11-23T02:00Z", "email", 6, 1),
            (5, "2026-11-30T02:00Z", "email", 7, 3),
            (5, "2026-11-30T02:00Z", "telegram", 8, 1),
        ]
    finally:
        await engine.dispose()


async def test_the_export_reads_plain_rows_as_the_subscribers_would_give_them(
    p: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export builds its rows from three plain queries (members, follows, lists), not ORM
    objects: for members with every kind of field, the same rows, in the same order, as
    `subscriber_row` gives from the loaded Subscribers; and the same CSV, which reads back,
    whether it is read in one piece or a member at a time."""
    soon = (utcnow() + timedelta(days=3)).replace(microsecond=0).isoformat()
    file = tmp_path / "people.csv"
    file.write_text(
        ",".join(COLUMNS) + "\n"
        f"zoe@example.org,Zoë Å,active,{soon},ru,Asia/Almaty,fri 18:30,4242,"
        f'"country=KZ:weekly:email case={PASTOR}:instant:telegram all:daily:email",'
        f"{MINE} {CHAIN},signup,2024-03-01T10:00:00+00:00\n"
        "adam@example.org,=Adam,active,,en,UTC,mon 07:00,,country=UZ:instant:email,"
        f"{MINE},,\n"
        "eve@example.org,,unsubscribed,,en,UTC,mon 07:00,-1009,,,,\n",
        encoding="utf-8",
    )
    specs, _ = read_subscriber_csv(file)
    await tasks.import_subscribers(p.store, p.settings, specs, by=OWNER, mailing_list=MINE)
    async with p.store.read() as session:
        mine = await get_list(session, MINE)
        loaded = [subscriber_row(s) for s in await list_subscribers(session, mailing_list=mine)]
        plain = await member_rows(session, mine)
    assert len(plain) == 3
    assert plain == loaded
    zoe = next(r for r in plain if r["email"] == "zoe@example.org")
    assert zoe["follows"] == (
        f"all:daily:email case={PASTOR}:instant:telegram country=KZ:weekly:email"
    )
    assert (zoe["lists"], zoe["paused_until"], zoe["telegram_chat_id"]) == (
        f"{MINE} {CHAIN}",
        soon,
        "4242",
    )
    exported = await tasks.export_list_members(p.store, OWNER, MINE)
    assert exported == "".join(write_subscriber_csv(loaded))
    monkeypatch.setattr(list_console, "EXPORT_BATCH", 1)
    assert await tasks.export_list_members(p.store, OWNER, MINE) == exported
    assert "'=Adam" in exported  # a formula neutralised, as before
    file.write_text(exported, encoding="utf-8")
    again, problems = read_subscriber_csv(file)
    assert [s.email for s in again] == ["adam@example.org", "eve@example.org", "zoe@example.org"]
    assert problems == []
