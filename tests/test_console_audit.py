"""The audit log page (owners) and API tokens made in the console: what each write left in the
log, filtered and paged; a token shown once, acting on /api with its user's role, revoked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from notifier.config import Settings
from notifier.domain.actors import Actor
from notifier.service import Pipeline, pipeline
from notifier.store import audit
from notifier.store.models import AuditEntry
from notifier.web.app import create_app
from tests.helpers import AppClient, add_console_users, console_form, console_sign_in, seed


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
        transport = httpx.ASGITransport(app=create_app(settings, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


async def test_the_log_shows_who_did_what_filtered_and_paged(console: AppClient) -> None:
    p, client = console
    await console_sign_in(client, "owner@example.org")
    token = await console_form(client, "/admin/users")
    await client.post(
        "/admin/users", data={"csrf": token, "email": "new@example.org", "role": "editor"}
    )
    page = await client.get("/admin/audit")
    assert page.status_code == 200
    assert "user:owner@example.org" in page.text
    assert "user.add" in page.text
    assert "new@example.org" in page.text
    # Sixty entries by the CLI: fifty on the first page, the rest on the next.
    async with p.store.transaction() as session:
        for n in range(60):
            audit.record(session, Actor.cli("ops"), "case.edit", f"case-{n}")
    first = await client.get("/admin/audit", params={"actor": "cli:ops"})
    assert first.text.count("case.edit") == 50
    assert "case-59" in first.text
    assert "user.add" not in first.text
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)"', first.text)
    assert older is not None
    second = await client.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count("case.edit") == 10
    assert "case-0<" in second.text
    assert "Older entries" not in second.text


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"since": "yesterday"}, "a day as YYYY-MM-DD"),
        ({"before": "99999999999"}, "not a page of this log"),
        ({"actor": "x" * 600}, "at most 500 characters"),
        ({"actor": "cli:\x00"}, "no NUL"),
    ],
)
async def test_bad_filters_are_named(
    console: AppClient, params: dict[str, str], named: str
) -> None:
    _, client = console
    await console_sign_in(client, "owner@example.org")
    answer = await client.get("/admin/audit", params=params)
    assert answer.status_code == 400
    assert named in answer.text


async def test_only_owners_read_the_log(console: AppClient) -> None:
    _, client = console
    await console_sign_in(client, "editor@example.org")
    assert (await client.get("/admin/audit")).status_code == 403


async def test_a_token_made_in_the_console_acts_as_its_user(console: AppClient) -> None:
    p, client = console
    await console_sign_in(client, "editor@example.org")
    token = await console_form(client, "/admin/account/tokens")
    unnamed = await client.post("/admin/account/tokens", data={"csrf": token, "name": " "})
    assert unnamed.status_code == 400
    assert "a token needs a name" in unnamed.text
    made = await client.post("/admin/account/tokens", data={"csrf": token, "name": "blog script"})
    assert made.status_code == 201
    clear = re.search(r"<code>(ntf_[\w-]+)</code>", made.text)
    assert clear is not None
    # Shown once: the list names it, the token itself is not on the page again.
    again = await client.get("/admin/account/tokens")
    assert "blog script" in again.text
    assert clear.group(1) not in again.text
    bearer = {"Authorization": f"Bearer {clear.group(1)}"}
    assert (await client.get("/api/cases", headers=bearer)).status_code == 200
    # An editor's token reads subscribers but may not change them.
    refused = await client.delete("/api/subscribers/anyone@example.org", headers=bearer)
    assert refused.status_code == 403
    revoke = re.search(r'action="(/admin/account/tokens/\d+/revoke)"', again.text)
    assert revoke is not None
    assert (await client.post(revoke.group(1), data={"csrf": token})).status_code == 303
    assert (await client.get("/api/cases", headers=bearer)).status_code == 401
    log = [e.action for e in await _entries(p)]
    assert log[:2] == ["token.revoke", "token.create"]


async def _entries(p: Pipeline) -> list[AuditEntry]:
    async with p.store.read() as session:
        return await audit.entries(session)
