"""The console's Cases and Updates pages, through HTTP as a browser uses them: the case list
(search by any spelling, filters, pages), a form for every field (bad input named beside each
field, the rest kept, nothing written), a case file uploaded with its line errors, an update
previewed with its audience and then published (its alerts queued), corrected, withdrawn
after a confirmation, a test sent to oneself; coordinators read but never write."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notifier import app as tasks
from notifier.config import Settings
from notifier.domain import MessageKind, OutboxStatus, Role
from notifier.domain.actors import Actor
from notifier.senders import email_sender
from notifier.service import Pipeline, pipeline
from notifier.store.audit import entries
from notifier.store.models import Case, OutboxMessage, Update
from notifier.store.updates import list_updates
from notifier.watch import watch_once
from notifier.web.app import create_app
from tests.helpers import (
    KZ,
    PASTOR,
    WEEKLY_KZ,
    AppClient,
    add_console_users,
    console_form,
    console_sign_in,
    maildir,
    news,
    seed,
    subscribe,
)

OWNER, EDITOR, COORDINATOR = "owner@example.org", "editor@example.org", "coordinator@example.org"
MAKHSET = "makhset-djabbarbergenov"
READER = Actor.console_user(EDITOR, Role.EDITOR, frozenset())

#: A new case as the form takes it: every field.
NEW: dict[str, str] = {
    "slug": "ana-lopez",
    "name": "Ana López",
    "spellings": "Ana Lopes\n\nАнна Лопес\n",
    "country": "Cuba",
    "role": "church member",
    "status": "detained",
    "summary": "Arrested after a house meeting.\n\nHeld without charge.",
    "letter_address": "Ana López\nVilla Marista\nHavana",
    "letter_guidance": "Write briefly.",
    "actions": "pray | Pray for Ana.\nwrite | Send her a card | Villa Marista, Havana",
    "prayer": "Lord, be near Ana.",
    "sources": "CSW | https://www.csw.org.uk/\nFamily",
    "published": "yes",
}


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
        app = create_app(settings, p.store, email_sender=lambda: email_sender(settings))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


async def signed_in(client: httpx.AsyncClient, email: str = EDITOR) -> str:
    """Sign in; the session's form token."""
    assert (await console_sign_in(client, email)).status_code == 303
    return await console_form(client, "/admin/account")


def slugs_listed(page: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/cases/([a-z0-9-]+)">', page)


async def case_count(p: Pipeline) -> int:
    async with p.store.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def alerts(p: Pipeline, update_id: int) -> list[OutboxMessage]:
    async with p.store.read() as session:
        return list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.update_id == update_id, OutboxMessage.kind == MessageKind.ALERT
                )
            )
        )


def field_error(page: str, name: str) -> str:
    """The error shown beside a field (tied to it by aria-describedby), as text."""
    assert f'aria-describedby="e-{name}' in page, f"no error tied to {name}"
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', page, re.S)
    assert found is not None, f"no error beside {name}"
    return html.unescape(found.group(1))


async def test_list_search_filters_and_pages(console: AppClient) -> None:
    _p, client = console
    await signed_in(client, COORDINATOR)  # reading is open to every role
    everything = await client.get("/admin/cases")
    assert everything.status_code == 200
    assert slugs_listed(everything.text) == [PASTOR, MAKHSET]
    # Any spelling, any accents and case.
    for typed in ("kashkumbáev", "BAKHYSTZHAN", "makset"):
        found = await client.get("/admin/cases", params={"q": typed})
        assert len(slugs_listed(found.text)) == 1, typed
    assert slugs_listed((await client.get("/admin/cases?country=Kazakhstan")).text) == [
        PASTOR,
        MAKHSET,
    ]
    assert slugs_listed((await client.get("/admin/cases?country=CU")).text) == []
    assert slugs_listed((await client.get("/admin/cases?status=exiled")).text) == [MAKHSET]
    bad = await client.get("/admin/cases", params={"status": "lost", "country": "Atlantis"})
    assert bad.status_code == 400
    assert "one of detained" in field_error(bad.text, "status")
    assert "Atlantis" in field_error(bad.text, "country")
    assert 'value="Atlantis"' in bad.text  # the filter kept as typed
    first = await client.get("/admin/cases?limit=1")
    assert slugs_listed(first.text) == [PASTOR]
    following = re.search(r'href="(/admin/cases\?[^"]*after=[^"]+)" rel="next"', first.text)
    assert following is not None
    second = await client.get(html.unescape(following.group(1)))
    assert slugs_listed(second.text) == [MAKHSET]
    assert 'rel="next"' not in second.text
    too_many = await client.get("/admin/cases?limit=100000")
    assert too_many.status_code == 400
    assert "from 1 to 200" in too_many.text


async def test_create_and_edit_every_field(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    form = await client.get("/admin/cases/new")
    for name in NEW:
        assert f'for="f-{name}"' in form.text, name  # every field has its label
    created = await client.post("/admin/cases/new", data=NEW | {"csrf": token})
    assert created.status_code == 303
    assert created.headers["location"] == "/admin/cases/ana-lopez?saved=created"
    page = await client.get(created.headers["location"])
    assert "The case is created." in page.text
    spec = (await tasks.case_detail(p.store, READER, "ana-lopez"))["spec"]
    assert spec == {
        "slug": "ana-lopez",
        "name": "Ana López",
        "spellings": ["Ana Lopes", "Анна Лопес"],
        "country": "CU",
        "role": "church member",
        "status": "detained",
        "summary": "Arrested after a house meeting.\n\nHeld without charge.",
        "letter": {"address": "Ana López\nVilla Marista\nHavana", "guidance": "Write briefly."},
        "actions": [
            {"kind": "pray", "text": "Pray for Ana."},
            {"kind": "write", "text": "Send her a card", "address": "Villa Marista, Havana"},
        ],
        "prayer": "Lord, be near Ana.",
        "sources": [{"name": "CSW", "url": "https://www.csw.org.uk/"}, {"name": "Family"}],
        "published": True,
    }
    # The edit form holds what was saved, one item a line.
    assert "pray | Pray for Ana.\nwrite | Send her a card | Villa Marista, Havana" in page.text
    assert "CSW | https://www.csw.org.uk/\nFamily</textarea>" in page.text

    edited = NEW | {
        "slug": "ana-lopez-perez",
        "name": "Ana López Pérez",
        "spellings": "Ana Lopes Perez",
        "status": "sentenced",
        "role": "",
        "summary": "Sentenced to three years.",
        "letter_address": "",
        "letter_guidance": "",
        "actions": "",
        "prayer": "Lord, keep Ana.",
        "sources": "CSW",
        "published": "",
    }
    saved = await client.post("/admin/cases/ana-lopez", data=edited | {"csrf": token})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/cases/ana-lopez-perez?saved=changed"
    spec = (await tasks.case_detail(p.store, READER, "ana-lopez-perez"))["spec"]
    assert spec == {
        "slug": "ana-lopez-perez",
        "name": "Ana López Pérez",
        "spellings": ["Ana Lopes Perez"],
        "country": "CU",
        "role": "",
        "status": "sentenced",
        "summary": "Sentenced to three years.",
        "letter": None,
        "actions": [],
        "prayer": "Lord, keep Ana.",
        "sources": [{"name": "CSW"}],
        "published": False,
    }
    unpublished = await client.get("/admin/cases/ana-lopez-perez")
    assert "not published" in unpublished.text
    same = await client.post("/admin/cases/ana-lopez-perez", data=edited | {"csrf": token})
    assert same.headers["location"].endswith("saved=same")


async def test_bad_input_is_named_beside_each_field_and_nothing_is_written(
    console: AppClient,
) -> None:
    p, client = console
    token = await signed_in(client)
    bad = NEW | {
        "slug": "Ana Lopez",
        "name": "Ana\x00López",
        "country": "Atlantis",
        "status": "lost",
        "letter_address": "",
        "letter_guidance": "Write briefly.",
        "actions": "pray | Pray for Ana.\n\nsing | Sing to her",
        "sources": "CSW | https://www.csw.org.uk/\nForum 18 | javascript:alert(1)",
        "summary": "x" * 10_001,
        "prayer": "Lord, be near Ana.",
    }
    refused = await client.post("/admin/cases/new", data=bad | {"csrf": token})
    assert refused.status_code == 400
    page = refused.text
    assert "use lower-case letters" in field_error(page, "slug")
    assert "control character" in field_error(page, "name")
    assert "Atlantis" in field_error(page, "country")
    assert "lost" in field_error(page, "status") or "detained" in field_error(page, "status")
    assert field_error(page, "letter_address").startswith("Letter address:")
    assert field_error(page, "actions").startswith("Actions: line 3 (kind)")
    assert field_error(page, "sources").startswith("Sources: line 2 (url)")
    assert "10000" in field_error(page, "summary").replace(",", "")
    # The other fields as typed, the bad ones too (a NUL byte aside).
    assert 'value="Ana Lopez"' in page
    assert 'value="AnaLópez"' in page
    assert ">Lord, be near Ana.</textarea>" in page
    assert "Forum 18 | javascript:alert(1)</textarea>" in page
    assert "Nothing was saved: 8 fields to put right" in page
    assert await case_count(p) == 2

    # A case already here: a bad field, and nothing of the good ones is written either.
    before = (await tasks.case_detail(p.store, READER, PASTOR))["spec"]
    page = (await client.get(f"/admin/cases/{PASTOR}")).text
    good = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input id="f-\w+" name="(\w+)" type="text" value="([^"]*)"', page
        )
    }
    half = good | {
        "status": before["status"],
        "name": "A new name",
        "prayer": "\x00",
        "actions": "pray | ok\nwrite",
    }
    answer = await client.post(f"/admin/cases/{PASTOR}", data=half | {"csrf": token})
    assert answer.status_code == 400
    assert "control character" in field_error(answer.text, "prayer")
    assert "line 2: write it as" in field_error(answer.text, "actions")
    assert 'value="A new name"' in answer.text
    assert (await tasks.case_detail(p.store, READER, PASTOR))["spec"] == before
    taken = await client.post("/admin/cases/new", data=NEW | {"slug": PASTOR, "csrf": token})
    assert taken.status_code == 400
    assert f"there is a case '{PASTOR}'" in field_error(taken.text, "slug")


UPLOAD = """\
slug: ana-lopez
name: Ana López
country: CU
status: detained
updates:
  - date: 2024-03-01
    title: Arrested
"""

BAD_UPLOAD = """\
slug: Ana Lopez
name: Ana López
country: Atlantis
status: detained
sources:
  - name: CSW
    url: ftp://example.org/
"""


async def test_upload_a_case_file_with_line_errors(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    upload = await client.get("/admin/cases/upload")
    assert 'enctype="multipart/form-data"' in upload.text
    bad = await client.post(
        "/admin/cases/upload",
        data={"csrf": token},
        files={"file": ("ana.yaml", BAD_UPLOAD.encode(), "application/yaml")},
    )
    assert bad.status_code == 400
    text = html.unescape(bad.text)
    for where, name in (
        ("ana.yaml:1", "slug"),
        ("ana.yaml:3", "country"),
        ("ana.yaml:7", "sources.0.url"),
    ):
        assert f"<strong>{where}</strong> [{name}]" in text
    assert await case_count(p) == 2
    latin1 = await client.post(
        "/admin/cases/upload",
        data={"csrf": token},
        files={"file": ("ana.yaml", UPLOAD.encode("latin-1"), "application/yaml")},
    )
    assert latin1.status_code == 400
    assert "not UTF-8 text" in latin1.text
    nothing = await client.post("/admin/cases/upload", data={"csrf": token})
    assert nothing.status_code == 400
    assert "choose a case file" in nothing.text
    good = await client.post(
        "/admin/cases/upload",
        data={"csrf": token},
        files={"file": ("ana.yaml", UPLOAD.encode(), "application/yaml")},
    )
    assert good.status_code == 200
    assert '<a href="/admin/cases/ana-lopez">ana-lopez</a>' in good.text
    assert await case_count(p) == 3


def draft(**changes: str) -> dict[str, str]:
    return {
        "date": "2024-05-02",
        "title": "Appeal hearing moved to 9 May",
        "body": "The court moved the hearing.\n\nPlease keep praying.",
        "source": "Forum 18",
        "url": "https://www.forum18.org/archive.php",
        "urgent": "yes",
    } | changes


async def test_preview_with_the_audience_then_publish_urgent(console: AppClient) -> None:
    p, client = console
    await subscribe(p, "instant@example.org", KZ)
    await subscribe(p, "weekly@example.org", WEEKLY_KZ)
    token = await signed_in(client)
    case_page = await client.get(f"/admin/cases/{PASTOR}")
    assert 'value="preview"' in case_page.text
    assert 'value="publish" hidden>' in case_page.text  # no publishing before a preview

    bad = await client.post(
        f"/admin/cases/{PASTOR}/updates",
        data=draft(date="2024-13-40", title="", url="javascript:x")
        | {"csrf": token, "action": "preview"},
    )
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in field_error(bad.text, "date")
    assert "must not be empty" in field_error(bad.text, "title")
    assert field_error(bad.text, "url").startswith("Source's web address:")
    assert "javascript:x" in bad.text  # kept as typed

    shown = await client.post(
        f"/admin/cases/{PASTOR}/updates", data=draft() | {"csrf": token, "action": "preview"}
    )
    assert shown.status_code == 200
    page = shown.text
    assert '<iframe title="The alert as an email (HTML)" sandbox="" srcdoc="' in page
    assert "Appeal hearing moved to 9 May" in page
    assert "Please keep praying." in page  # the text version
    assert "&lt;b&gt;" in page  # Telegram's HTML, shown escaped
    audience = await tasks.update_audience(p.store, READER, PASTOR, urgent=True)
    email, telegram = audience.alerts["email"], audience.alerts["telegram"]
    assert email >= 2  # the two email followers, and the example list's members
    assert telegram == 0  # no one follows by Telegram
    total = f"<strong>{email}</strong> alerts at once ({email} by email, 0 by telegram)"
    assert total in page
    assert [lst.slug for lst in audience.lists] == ["kazakhstan-prayer-chain"]
    assert "<td>Kazakhstan" in page  # the list that follows it, with its members
    previewed = re.search(r'name="previewed" value="([0-9a-f]+)"', page)
    assert previewed is not None
    assert 'value="publish">Publish as urgent' in page

    # Publishing what was not previewed shows the preview again instead.
    changed = await client.post(
        f"/admin/cases/{PASTOR}/updates",
        data=draft(title="Something else")
        | {"csrf": token, "action": "publish", "previewed": previewed.group(1)},
    )
    assert changed.status_code == 409
    assert "changed since its preview" in changed.text
    published = await client.post(
        f"/admin/cases/{PASTOR}/updates",
        data=draft() | {"csrf": token, "action": "publish", "previewed": previewed.group(1)},
    )
    assert published.status_code == 303
    assert published.headers["location"] == f"/admin/cases/{PASTOR}?saved=published#updates"
    assert "The update is published" in (await client.get(published.headers["location"])).text
    latest = await tasks.latest_updates(p.store, READER, limit=1)
    update = latest.updates[0]
    assert (update["title"], update["severity"]) == ("Appeal hearing moved to 9 May", "urgent")
    await watch_once(p.store)
    queued = await alerts(p, update["id"])
    by_channel = {"email": 0, "telegram": 0} | {
        ch: sum(1 for m in queued if m.channel.value == ch) for ch in ("email", "telegram")
    }
    assert by_channel == audience.alerts  # what the page said is what the watcher queued
    async with p.store.read() as session:
        log = [(e.actor, e.action) for e in await entries(session)]
    assert ("user:editor@example.org", "update.add") in log


async def test_the_live_preview_answers_a_fragment_of_the_form_as_it_stands(
    console: AppClient,
) -> None:
    """What live-preview.js asks for as the editor types: the audience and the alert as each
    channel shows it, with the fingerprint Publish needs; the fields to put right (400), and
    nothing written either way. The console's pages may run that script, and only from /admin."""
    p, client = console
    async with p.store.read() as session:
        updates_before = await session.scalar(select(func.count()).select_from(Update))
    token = await signed_in(client)
    case_page = await client.get(f"/admin/cases/{PASTOR}")
    csp = case_page.headers["content-security-policy"]
    scripts = next(d.strip() for d in csp.split(";") if d.strip().startswith("script-src"))
    assert scripts == "script-src 'self'"  # the console's own files, nothing inline
    assert '<script src="/admin/live-preview.js" defer></script>' in case_page.text
    assert f'data-live-preview="/admin/cases/{PASTOR}/updates/preview"' in case_page.text
    script = await client.get("/admin/live-preview.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "fetch(form.dataset.livePreview" in script.text  # the address the form names

    live = f"/admin/cases/{PASTOR}/updates/preview"
    shown = await client.post(live, data=draft(urgent="") | {"csrf": token})
    assert shown.status_code == 200
    assert "<html" not in shown.text  # a fragment of the case page
    assert "Appeal hearing moved to 9 May" in shown.text
    assert '<iframe title="The alert as an email (HTML)"' in shown.text
    assert "Who will get it" in shown.text
    mark = re.search(r'data-previewed="([0-9a-f]+)" data-publish-label="Publish"', shown.text)
    assert mark is not None
    # The fingerprint is the one the whole-page Preview gives, so Publish takes it.
    whole = await client.post(
        f"/admin/cases/{PASTOR}/updates",
        data=draft(urgent="") | {"csrf": token, "action": "preview"},
    )
    assert f'name="previewed" value="{mark.group(1)}"' in whole.text
    urgent = await client.post(live, data=draft() | {"csrf": token})
    assert 'data-publish-label="Publish as urgent"' in urgent.text

    bad = await client.post(live, data=draft(date="2024-13-40", title="") | {"csrf": token})
    assert bad.status_code == 400
    assert 'data-previewed=""' in bad.text
    assert "The preview waits for 2 fields" in bad.text
    assert "date — " in bad.text
    assert "title — " in bad.text
    refused = await client.post(live, data=draft())  # no form token
    assert refused.status_code == 403
    missing = await client.post(
        "/admin/cases/no-such-case/updates/preview", data=draft() | {"csrf": token}
    )
    assert missing.status_code == 404
    async with p.store.read() as session:
        assert await session.scalar(select(func.count()).select_from(Update)) == updates_before
        assert [e.action for e in await entries(session)].count("update.add") == 0


async def test_the_latest_updates_correct_and_withdraw(console: AppClient) -> None:
    p, client = console
    await subscribe(p, "instant@example.org", KZ)
    await news(p, title="First news")
    await news(p, title="Second news")
    token = await signed_in(client)
    latest = await client.get("/admin/updates?limit=1")
    assert "Second news" in latest.text
    assert "First news" not in latest.text
    older = re.search(r'href="(/admin/updates\?[^"]+)" rel="next"', latest.text)
    assert older is not None
    assert "First news" in (await client.get(html.unescape(older.group(1)))).text
    assert f'href="/admin/cases/{PASTOR}"' in latest.text
    update_id = (await tasks.latest_updates(p.store, READER, limit=1)).updates[0]["id"]

    form = await client.get(f"/admin/updates/{update_id}")
    assert form.status_code == 200
    assert 'value="Second news"' in form.text
    bad = await client.post(
        f"/admin/updates/{update_id}", data=draft(date="someday", title="x" * 400) | {"csrf": token}
    )
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in field_error(bad.text, "date")
    assert "300" in field_error(bad.text, "title")
    fixed = await client.post(
        f"/admin/updates/{update_id}",
        data=draft(title="Second news, corrected", urgent="") | {"csrf": token},
    )
    assert fixed.status_code == 303
    assert "Corrected" in (await client.get(fixed.headers["location"])).text
    waiting = await alerts(p, update_id)
    assert [m.status for m in waiting] == [OutboxStatus.PENDING]

    confirm = await client.get(f"/admin/updates/{update_id}/withdraw")
    assert confirm.status_code == 200
    assert "Withdraw “Second news, corrected”?" in confirm.text
    assert '<tr><th scope="row">email</th><td>1</td><td>0</td></tr>' in confirm.text
    done = await client.post(f"/admin/updates/{update_id}/withdraw", data={"csrf": token})
    assert done.status_code == 200
    assert "is withdrawn: 1 alerts and 0 digests stopped" in done.text
    assert [m.status for m in await alerts(p, update_id)] != [OutboxStatus.PENDING]
    again = await client.post(f"/admin/updates/{update_id}", data=draft() | {"csrf": token})
    assert again.status_code == 400
    assert "was withdrawn" in again.text
    assert (await client.get("/admin/updates/999999")).status_code == 404
    assert (await client.get("/admin/updates/99999999999999")).status_code == 404


async def test_a_test_send_lands_in_the_maildir(console: AppClient) -> None:
    p, client = console
    token = await signed_in(client)
    sent = await client.post(
        f"/admin/cases/{PASTOR}/updates", data=draft() | {"csrf": token, "action": "test"}
    )
    assert sent.status_code == 200
    assert f"A test went to {EDITOR}" in sent.text
    [message] = maildir(p.settings)
    assert message["To"] == EDITOR
    assert message["Subject"].startswith("[Test] ")
    assert "Appeal hearing moved to 9 May" in message["Subject"]
    async with p.store.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_coordinators_read_but_every_write_is_refused(console: AppClient) -> None:
    p, client = console
    await news(p, title="Some news")
    update_id = (await tasks.latest_updates(p.store, READER, limit=1)).updates[0]["id"]
    token = await signed_in(client, COORDINATOR)
    for path in ("/admin/cases", f"/admin/cases/{PASTOR}", "/admin/updates"):
        page = await client.get(path)
        assert page.status_code == 200, path
        forms = re.findall(r'<form method="post" action="([^"]+)"', page.text)
        assert forms == ["/admin/logout"], path  # no forms to change anything
        assert "/admin/cases/new" not in page.text
    assert "Some news" in (await client.get(f"/admin/cases/{PASTOR}")).text
    for path in (
        "/admin/cases/new",
        "/admin/cases/upload",
        f"/admin/updates/{update_id}",
        f"/admin/updates/{update_id}/withdraw",
    ):
        assert (await client.get(path)).status_code == 403, path
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/admin/cases/new", NEW),
        (f"/admin/cases/{PASTOR}", NEW | {"slug": PASTOR}),
        ("/admin/cases/upload", {}),
        (f"/admin/cases/{PASTOR}/updates", draft() | {"action": "preview"}),
        (f"/admin/cases/{PASTOR}/updates", draft() | {"action": "test"}),
        (f"/admin/updates/{update_id}", draft()),
        (f"/admin/updates/{update_id}/withdraw", {}),
    ]
    for path, data in writes:
        refused = await client.post(path, data=data | {"csrf": token})
        assert refused.status_code == 403, path
        assert "your role (coordinator) may not change" in refused.text
    assert await case_count(p) == 2
    assert maildir(p.settings) == []
    assert [m.status for m in await alerts(p, update_id)] == [OutboxStatus.PENDING] * len(
        await alerts(p, update_id)
    )


async def test_an_editor_cannot_open_users_nor_post_without_the_token(console: AppClient) -> None:
    p, client = console
    await signed_in(client)
    assert (await client.get("/admin/users")).status_code == 403
    forged = await client.post("/admin/cases/new", data=NEW | {"csrf": "forged"})
    assert forged.status_code == 403
    assert "nothing was changed" in forged.text
    assert await case_count(p) == 2


async def test_the_latest_updates_count_the_alerts_made(console: AppClient) -> None:
    """The list counts each update's alerts from the outbox's key index (every status alike):
    the same total its statuses add up to; the by-status breakdown stays on the case's page."""
    p, client = console
    await news(p, title="Nobody follows yet")
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        await subscribe(p, email, KZ)
    await news(p, title="Three follow now")
    page = await tasks.latest_updates(p.store, READER, limit=2)
    latest, quiet = page.updates
    assert (latest["title"], quiet["title"]) == ("Three follow now", "Nobody follows yet")
    queued = await alerts(p, latest["id"])
    async with p.store.transaction() as session:
        sent, failed = [await session.get(OutboxMessage, m.id) for m in queued[:2]]
        assert sent is not None
        assert failed is not None
        sent.status, failed.status = OutboxStatus.SENT, OutboxStatus.FAILED
        states = await list_updates(session, limit=2)
    by_status = {s.update.id: s.alerts for s in states}
    assert by_status[latest["id"]] == {"sent": 1, "failed": 1, "pending": 1}
    page = await tasks.latest_updates(p.store, READER, limit=2)
    assert [u["alerts_made"] for u in page.updates] == [3, 0]
    assert all("alerts" not in u for u in page.updates)
    await signed_in(client)
    shown = (await client.get("/admin/updates?limit=2")).text
    assert f'<a href="/admin/cases/{PASTOR}#updates">3</a>' in shown
    assert '<span class="quiet">none</span>' in shown
    case_page = (await client.get(f"/admin/cases/{PASTOR}")).text
    assert "failed 1, pending 1, sent 1" in case_page
