"""The console's Lists pages, through HTTP as a browser uses them: the lists each role sees, a
list made and edited in the console (every field; bad input named beside each field, the rest
kept, nothing written), a list kept in a file shown read-only, members added, removed after a
confirmation, imported from a CSV file (each bad row named; all or nothing unless the bad rows
are skipped; too large a file refused by name) and exported, the next digest previewed, sent
now into the Maildir and found in the archive; a coordinator runs their own list and gets the
403 page for another, and an editor reads without a form and is refused every write."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notifier import app as tasks
from notifier import limits
from notifier.config import Settings
from notifier.domain import Role
from notifier.domain.actors import Actor
from notifier.service import Pipeline, pipeline
from notifier.store.audit import entries
from notifier.store.models import AuditEntry, MailingList, Subscriber
from notifier.web.app import create_app
from tests.helpers import (
    CHAIN,
    OTHER_LIST_SPEC,
    PASTOR,
    AppClient,
    add_console_users,
    add_other_list,
    console_form,
    console_sign_in,
    deliver,
    maildir,
    new_update,
    seed,
    text_of,
)

OWNER, EDITOR, COORDINATOR = "owner@example.org", "editor@example.org", "coordinator@example.org"
OTHER = str(OTHER_LIST_SPEC["slug"])
READER = Actor.console_user(OWNER, Role.OWNER, frozenset())
#: A list's own digest templates (a folder under lists/ in templates_dir).
SHEET = "prayer-sheet"

#: A new list as the form takes it: every field.
NEW: dict[str, Any] = {
    "slug": "almaty-friends",
    "name": "Almaty friends",
    "description": "News of Kazakhstan, each Friday.",
    "follows": "country=KZ\n\ncase=kashkumbaev\n",
    "cadence": "weekly",
    "schedule": "fri 18:00",
    "time_zone": "Asia/Almaty",
    "channels": ["email", "telegram"],
    "template": SHEET,
    "protect_content": "yes",
}


@pytest.fixture
async def console(settings: Settings, tmp_path: Path) -> AsyncIterator[AppClient]:
    own = tmp_path / "templates" / "lists" / SHEET / "email"
    own.mkdir(parents=True)
    (own / "digest_subject.txt").write_text("Prayer sheet: {{ title }}, {{ update_count }} new\n")
    themed = settings.model_copy(update={"templates_dir": tmp_path / "templates"})
    async with pipeline(themed) as p:
        await seed(p)
        await add_console_users(p)
        await add_other_list(p)
        transport = httpx.ASGITransport(app=create_app(themed, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=themed.public_url) as c:
            yield p, c


async def signed_in(client: httpx.AsyncClient, email: str = OWNER) -> str:
    """Sign in; the session's form token."""
    assert (await console_sign_in(client, email)).status_code == 303
    return await console_form(client, "/admin/account")


def field_error(page: str, name: str) -> str:
    """The error shown beside a field (tied to it by aria-describedby), as text."""
    assert f'aria-describedby="e-{name}' in page, f"no error tied to {name}"
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', page, re.S)
    assert found is not None, f"no error beside {name}"
    return html.unescape(found.group(1))


def post_forms(page: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', page)


def listed(page: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/lists/([a-z0-9-]+)">', page)


async def count(p: Pipeline, model: type[Any]) -> int:
    async with p.store.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def member_emails(p: Pipeline, slug: str) -> list[str]:
    page = await tasks.list_members(p.store, READER, slug, limit=500)
    return [m["email"] for m in page.members]


async def test_each_role_sees_its_lists(console: AppClient) -> None:
    _, client = console
    await signed_in(client, OWNER)
    page = (await client.get("/admin/lists")).text
    assert listed(page) == [OTHER, CHAIN]
    assert 'href="/admin/lists/new"' in page
    assert "a list file" in page
    assert "the console" in page
    await client.post("/admin/logout", data={"csrf": await console_form(client, "/admin/account")})

    await signed_in(client, EDITOR)
    page = (await client.get("/admin/lists")).text
    assert listed(page) == [OTHER, CHAIN]
    assert "/admin/lists/new" not in page
    assert (await client.get("/admin/lists/new")).status_code == 403
    await client.post("/admin/logout", data={"csrf": await console_form(client, "/admin/account")})

    await signed_in(client, COORDINATOR)
    page = (await client.get("/admin/lists")).text
    assert listed(page) == [CHAIN]
    assert "The lists you run" in page
    assert "/admin/lists/new" not in page
    refused = await client.get("/admin/lists/new")
    assert refused.status_code == 403
    assert "may not make new lists" in refused.text


async def test_create_and_edit_a_console_list_every_field(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    form = (await client.get("/admin/lists/new")).text
    for name in ("slug", "name", "description", "follows", "cadence", "schedule", "time_zone",
                 "template", "protect_content", "channel-email", "channel-telegram"):  # fmt: skip
        assert f'for="f-{name}"' in form, name  # every field has its label
    created = await client.post("/admin/lists/new", data=NEW | {"csrf": token})
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/admin/lists/almaty-friends?saved=created"
    page = (await client.get(created.headers["location"])).text
    assert "The list is made." in page
    shown = await tasks.list_detail(p.store, READER, "almaty-friends")
    assert {k: shown[k] for k in ("slug", "name", "description", "cadence", "schedule")} == {
        "slug": "almaty-friends",
        "name": "Almaty friends",
        "description": "News of Kazakhstan, each Friday.",
        "cadence": "weekly",
        "schedule": "fri 18:00",
    }
    assert sorted(shown["follows"]) == [f"case={PASTOR}", "country=KZ"]
    assert (shown["time_zone"], shown["channels"]) == ("Asia/Almaty", ["email", "telegram"])
    assert (shown["template"], shown["protect_content"], shown["origin"]) == (
        SHEET,
        True,
        "console",
    )
    # The edit form holds what was saved.
    assert 'value="fri 18:00"' in page
    assert 'id="f-channel-telegram" name="channels" value="telegram" checked' in page
    assert 'name="protect_content" value="yes" checked' in page

    edited = NEW | {
        "name": "Almaty friends daily",
        "description": "",
        "follows": "all",
        "cadence": "daily",
        "schedule": "06:30",
        "time_zone": "Europe/Berlin",
        "channels": ["telegram"],
        "template": "",
        "protect_content": "",
        "slug": "ignored-the-slug-stays",
    }
    saved = await client.post("/admin/lists/almaty-friends", data=edited | {"csrf": token})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/lists/almaty-friends?saved=changed"
    shown = await tasks.list_detail(p.store, READER, "almaty-friends")
    assert {k: shown[k] for k in NEW if k != "protect_content"} | {
        "protect_content": shown["protect_content"]
    } == {
        "slug": "almaty-friends",
        "name": "Almaty friends daily",
        "description": "",
        "follows": ["all"],
        "cadence": "daily",
        "schedule": "06:30",
        "time_zone": "Europe/Berlin",
        "channels": ["telegram"],
        "template": None,
        "protect_content": False,
    }
    same = await client.post("/admin/lists/almaty-friends", data=edited | {"csrf": token})
    assert same.headers["location"].endswith("saved=same")
    async with p.store.read() as session:
        log = [(e.actor, e.action, e.target) for e in await entries(session)]
    assert ("user:owner@example.org", "list.create", "almaty-friends") in log
    assert ("user:owner@example.org", "list.edit", "almaty-friends") in log


async def test_bad_input_is_named_beside_each_field_and_nothing_is_written(
    console: AppClient,
) -> None:
    p, client = console
    token = await signed_in(client)
    before = (await count(p, MailingList), await count(p, AuditEntry))
    bad = NEW | {
        "slug": "Bad Slug!",
        "name": "Nul\x00here",
        "description": "x" * (limits.DESCRIPTION + 1),
        "follows": "country=KZ\ncountry=Atlantis",
        "cadence": "hourly",
        "time_zone": "Mars/Olympus",
        "channels": ["email", "fax"],
        "template": "Not A Folder",
    }
    refused = await client.post("/admin/lists/new", data=bad | {"csrf": token})
    assert refused.status_code == 400
    page = refused.text
    assert "lower-case letters" in field_error(page, "slug")
    assert "NUL" in field_error(page, "name") or "control" in field_error(page, "name")
    assert "2,000" in field_error(page, "description")
    assert field_error(page, "follows").startswith("Follows: line 2:")
    assert "'weekly'" in field_error(page, "cadence")
    assert "Mars/Olympus" in field_error(page, "time_zone")
    assert field_error(page, "channels").startswith("Channels:")
    assert field_error(page, "template").startswith("Template")
    # The form kept as typed (a NUL byte aside).
    assert 'value="Bad Slug!"' in page
    assert 'value="Nulhere"' in page
    assert "country=KZ\ncountry=Atlantis</textarea>" in page
    assert '<option value="hourly" selected>' in page
    assert 'value="Mars/Olympus"' in page
    assert "Nothing was saved: 8 fields to put right" in page
    # A schedule that does not fit its cadence; a template folder that is not there.
    refused = await client.post("/admin/lists/new", data=NEW | {"schedule": "07:00", "csrf": token})
    assert refused.status_code == 400
    assert "day" in field_error(refused.text, "schedule")
    refused = await client.post(
        "/admin/lists/new", data=NEW | {"template": "missing", "csrf": token}
    )
    assert refused.status_code == 400
    assert "no templates in lists/missing/" in field_error(refused.text, "template")
    taken = await client.post("/admin/lists/new", data=NEW | {"slug": OTHER, "csrf": token})
    assert taken.status_code == 409
    assert f"there is a list '{OTHER}'" in field_error(taken.text, "slug")
    assert (await count(p, MailingList), await count(p, AuditEntry)) == before

    # Editing: a bad field, and nothing of the good ones is written either.
    was = await tasks.list_detail(p.store, READER, OTHER)
    half = NEW | {"name": "Renamed", "cadence": "weekly", "schedule": "someday 25:00"}
    answer = await client.post(f"/admin/lists/{OTHER}", data=half | {"csrf": token})
    assert answer.status_code == 400
    assert "someday" in field_error(answer.text, "schedule")
    assert 'value="Renamed"' in answer.text
    assert await tasks.list_detail(p.store, READER, OTHER) == was
    assert (await client.get("/admin/lists/no-such-list")).status_code == 404
    assert (await client.get("/admin/lists/" + "x" * 300)).status_code == 404


async def test_a_list_kept_in_a_file_is_read_only(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    page = (await client.get(f"/admin/lists/{CHAIN}")).text
    assert "Kept in a list file." in page
    assert "notifier lists apply" in page
    assert post_forms(page) == ["/admin/logout"]  # its settings: no form
    assert "country=KZ" in page
    assert "Asia/Almaty" in page
    was = await tasks.list_detail(p.store, READER, CHAIN)
    forced = await client.post(
        f"/admin/lists/{CHAIN}", data=NEW | {"name": "Renamed", "csrf": token}
    )
    assert forced.status_code == 409
    assert "lists apply" in forced.text
    assert await tasks.list_detail(p.store, READER, CHAIN) == was
    # Its members are still managed here: the form to add them is on its members page.
    members = (await client.get(f"/admin/lists/{CHAIN}/members")).text
    assert f"/admin/lists/{CHAIN}/members" in post_forms(members)
    assert "in the list file" in members  # the file's own members are taken off there
    refused = await client.post(
        f"/admin/lists/{CHAIN}/members/remove",
        data={"email": "anna.petrova@example.org", "csrf": token},
    )
    assert refused.status_code == 409
    assert "named in the list's file" in html.unescape(refused.text)
    assert "anna.petrova@example.org" in await member_emails(p, CHAIN)


async def test_members_add_page_and_remove_after_a_confirmation(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    base = f"/admin/lists/{OTHER}/members"
    for i in range(3):
        added = await client.post(
            base, data={"email": f"m{i}@example.org", "name": f"M {i}", "csrf": token}
        )
        assert added.status_code == 303
    shown = await client.get(added.headers["location"])
    assert "m2@example.org is on the list now." in shown.text
    again = await client.post(base, data={"email": "M0@Example.org", "csrf": token})
    assert "was on the list already" in (await client.get(again.headers["location"])).text
    bad = await client.post(base, data={"email": "not an address", "name": "A\x00B", "csrf": token})
    assert bad.status_code == 400
    assert field_error(bad.text, "email").startswith("Email:")
    assert field_error(bad.text, "name").startswith("Name")
    assert 'value="not an address"' in bad.text
    assert await member_emails(p, OTHER) == [f"m{i}@example.org" for i in range(3)]

    first = await client.get(f"{base}?limit=2")
    assert "3 members" in first.text
    assert "m1@example.org" in first.text
    assert "m2@example.org" not in first.text
    following = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert following is not None
    second = await client.get(html.unescape(following.group(1)))
    assert "m2@example.org" in second.text
    assert "m0@example.org" not in second.text
    assert 'rel="next"' not in second.text
    assert (await client.get(f"{base}?limit=100000")).status_code == 400
    assert (await client.get(f"{base}?after=abc")).status_code == 400

    confirm = await client.get(f"{base}/remove?email=m1%40example.org")
    assert confirm.status_code == 200
    assert "Take m1@example.org off Central Asia weekly?" in confirm.text
    assert f"{base}/remove" in post_forms(confirm.text)
    assert "m1@example.org" in await member_emails(p, OTHER)  # nothing yet
    removed = await client.post(f"{base}/remove", data={"email": "m1@example.org", "csrf": token})
    assert removed.status_code == 303
    assert "m1@example.org is off the list" in (await client.get(removed.headers["location"])).text
    assert await member_emails(p, OTHER) == ["m0@example.org", "m2@example.org"]
    gone = await client.post(f"{base}/remove", data={"email": "m1@example.org", "csrf": token})
    assert "was not on the list" in (await client.get(gone.headers["location"])).text
    async with p.store.read() as session:
        log = [(e.actor, e.action) for e in await entries(session)]
    assert ("user:owner@example.org", "list.add-member") in log
    assert ("user:owner@example.org", "list.remove-member") in log


PEOPLE = (
    "Email,Name,follows\n"
    "ruth@example.org,Ruth,country=KZ\n"
    "not-an-address,Bad,\n"
    "sam@example.org,Sam\x00,\n"
    "tom@example.org,Tom,\n"
)


async def test_import_with_row_errors_skip_bad_rows_and_export(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    base = f"/admin/lists/{OTHER}"
    form = await client.get(f"{base}/import")
    assert 'enctype="multipart/form-data"' in form.text
    assert 'for="f-skip_invalid"' in form.text
    people = before = await count(p, Subscriber)

    def upload(data: bytes, name: str = "people.csv", **more: str) -> dict[str, Any]:
        return {
            "data": {"csrf": token, **more},
            "files": {"file": (name, data, "text/csv")},
        }

    bad = await client.post(f"{base}/import", **upload(PEOPLE.encode()))
    assert bad.status_code == 400
    text = html.unescape(bad.text)
    assert "Nothing was imported: the file has 2 problems" in text
    assert "<strong>people.csv:3</strong> [email]" in text
    assert "<strong>people.csv:4</strong> [name]" in text
    assert await count(p, Subscriber) == people
    assert await member_emails(p, OTHER) == []

    skipped = await client.post(f"{base}/import", **upload(PEOPLE.encode(), skip_invalid="yes"))
    assert skipped.status_code == 200
    text = html.unescape(skipped.text)
    assert "people.csv is imported: 2 put on the list, 2 bad rows skipped" in text
    assert "<strong>people.csv:3</strong> [email]" in text
    assert "not read here: follows" in text
    assert await member_emails(p, OTHER) == ["ruth@example.org", "tom@example.org"]
    assert 'name="skip_invalid" value="yes" checked' in skipped.text  # the choice kept

    latin1 = await client.post(
        f"{base}/import", **upload("email\nzoë@example.org\n".encode("latin-1"))
    )
    assert latin1.status_code == 400
    assert "not UTF-8 text" in latin1.text
    nothing = await client.post(f"{base}/import", data={"csrf": token})
    assert nothing.status_code == 400
    assert "choose a CSV file" in nothing.text
    huge = b"email\n" + b"a" * limits.MEMBER_FILE
    too_large = await client.post(f"{base}/import", **upload(huge, name="huge.csv"))
    assert too_large.status_code == 413
    assert "huge.csv is larger than 10,000,000 bytes (10 MB)" in field_error(too_large.text, "file")
    assert await count(p, Subscriber) == before + 2

    exported = await client.get(f"{base}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="{OTHER}-members.csv"'
    )
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(exported.text))}
    assert set(rows) == {"ruth@example.org", "tom@example.org"}
    assert rows["ruth@example.org"]["name"] == "Ruth"
    # Read back, the export changes nothing.
    back = await client.post(f"{base}/import", **upload(exported.content, name="back.csv"))
    assert back.status_code == 200
    assert "back.csv is imported: 0 put on the list" in html.unescape(back.text)


async def test_preview_send_now_into_the_maildir_and_the_archive(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client, COORDINATOR)
    base = f"/admin/lists/{CHAIN}"
    empty = await client.get(f"{base}/digest")
    assert empty.status_code == 200
    assert "nothing new for" in empty.text
    assert "No digest sent yet." in (await client.get(f"{base}/archive")).text

    await new_update(p, title="Hearing moved to Friday")
    shown = await client.get(f"{base}/digest")
    page = shown.text
    assert '<iframe title="The digest as an email (HTML)" sandbox="" srcdoc="' in page
    assert "Hearing moved to Friday" in page
    assert "<strong>Subject:</strong> " in page
    assert 'aria-label="Telegram message 1 of' in page  # the chain sends by Telegram too
    assert "&lt;b&gt;" in page  # Telegram's HTML, shown escaped
    recent = await client.get(f"{base}/digest?recent=3")
    assert "3 latest updates" in recent.text
    assert (await client.get(f"{base}/digest?recent=100000")).status_code == 400

    confirm = await client.get(f"{base}/send")
    assert "Send Kazakhstan prayer chain’s digest now?" in confirm.text
    assert f"{base}/send" in post_forms(confirm.text)
    assert maildir(p.settings) == []
    sent = await client.post(f"{base}/send", data={"csrf": token})
    assert sent.status_code == 200
    assert "The digest is on its way: 4 messages queued" in sent.text
    again = await client.post(f"{base}/send", data={"csrf": token})
    assert "nothing was sent" in again.text
    await deliver(p.settings)
    got = [m for m in maildir(p.settings) if "Kazakhstan prayer chain" in str(m["Subject"])]
    assert sorted(m["To"].addresses[0].addr_spec for m in got) == [
        "anna.petrova@example.org", "david.okafor@example.org", "maria.schmidt@example.org",
        "prayer-team@example.org",
    ]  # fmt: skip
    assert all("Hearing moved to Friday" in text_of(m) for m in got)
    async with p.store.read() as session:
        log = [(e.actor, e.action, e.target) for e in await entries(session)]
    assert ("user:coordinator@example.org", "list.send-now", CHAIN) in log

    archive = (await client.get(f"{base}/archive")).text
    [period] = re.findall(r'archive\?digest=([^"]+)"', archive)
    assert "<td>4 (4 by email" in archive
    web_copy = re.search(r'<a href="(https?://[^"]+/digests/[^"]+)" rel="noopener', archive)
    assert web_copy is not None
    assert "Hearing moved to Friday" in (await client.get(web_copy.group(1))).text
    one = await client.get(f"{base}/archive?digest={period}")
    assert one.status_code == 200
    assert '<tr><th scope="row">email</th><td>4</td><td>4</td><td>0</td><td>0</td>' in one.text
    assert (await client.get(f"{base}/archive?digest=2020-01-01T00:00Z")).status_code == 404
    assert (await client.get(f"{base}/archive?before=nonsense")).status_code == 400


async def test_a_coordinator_runs_their_own_list_and_gets_403_for_another(
    console: AppClient,
) -> None:
    p, client = console
    token = await signed_in(client, COORDINATOR)
    mine = f"/admin/lists/{CHAIN}"
    for path in ("", "/members", "/import", "/export", "/digest", "/send", "/archive"):
        assert (await client.get(mine + path)).status_code == 200, path
    added = await client.post(f"{mine}/members", data={"email": "ruth@example.org", "csrf": token})
    assert added.status_code == 303
    assert "ruth@example.org" in await member_emails(p, CHAIN)

    other = f"/admin/lists/{OTHER}"
    for path in ("", "/members", "/members/remove?email=x%40example.org", "/import", "/export",
                 "/digest", "/send", "/archive", "/archive?digest=2020-01-01T00:00Z"):  # fmt: skip
        answer = await client.get(other + path)
        assert answer.status_code == 403, path
        assert f"the list {OTHER} is not one of yours" in answer.text
    writes: list[tuple[str, dict[str, Any]]] = [
        (other, NEW | {"name": "Mine now"}),
        (f"{other}/members", {"email": "ruth@example.org"}),
        (f"{other}/members/remove", {"email": "ruth@example.org"}),
        (f"{other}/import", {}),
        (f"{other}/send", {}),
        ("/admin/lists/new", NEW),
    ]
    for path, data in writes:
        refused = await client.post(path, data=data | {"csrf": token})
        assert refused.status_code == 403, path
    # A list that does not exist: the same answer as another's (nothing learnt).
    assert (await client.get("/admin/lists/no-such-list")).status_code == 403
    assert await member_emails(p, OTHER) == []
    assert (await tasks.list_detail(p.store, READER, OTHER))["name"] == OTHER_LIST_SPEC["name"]
    assert await count(p, MailingList) == 2


async def test_editors_read_without_forms_and_every_write_is_refused(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client, EDITOR)
    for slug in (CHAIN, OTHER):
        for path in ("", "/members", "/digest", "/archive"):
            page = await client.get(f"/admin/lists/{slug}{path}")
            assert page.status_code == 200, path
            assert post_forms(page.text) == ["/admin/logout"], path
            assert "/send" not in page.text, path
            assert "/import" not in page.text, path
        assert (await client.get(f"/admin/lists/{slug}/export")).status_code == 200
        for path in ("/import", "/send", "/members/remove?email=m%40example.org"):
            assert (await client.get(f"/admin/lists/{slug}{path}")).status_code == 403, path
        writes: list[tuple[str, dict[str, Any]]] = [
            ("", NEW | {"name": "Renamed"}),
            ("/members", {"email": "ruth@example.org"}),
            ("/members/remove", {"email": "anna.petrova@example.org"}),
            ("/import", {}),
            ("/send", {}),
        ]
        for path, data in writes:
            refused = await client.post(f"/admin/lists/{slug}{path}", data=data | {"csrf": token})
            assert refused.status_code == 403, path
            assert "your role (editor) may not change lists" in refused.text
    refused = await client.post("/admin/lists/new", data=NEW | {"csrf": token})
    assert refused.status_code == 403
    assert await count(p, MailingList) == 2
    assert "ruth@example.org" not in await member_emails(p, CHAIN)
