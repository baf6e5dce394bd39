"""Every console page, asked with hostile query parameters and hostile path values, answers
with a page or a named 4xx — never a 500 — on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from notifier.config import Settings
from notifier.service import pipeline
from notifier.web.app import create_app
from tests.console_routes import ROUTES
from tests.helpers import AppClient, add_console_users, add_other_list, console_sign_in, seed

#: Every parameter name a console page reads, each given what no form would send.
HOSTILE = {
    name: value
    for name in (
        "q", "text", "after", "before", "limit", "since", "until", "status", "channel", "kind",
        "country", "case", "list", "actor", "which", "recent", "digest", "messages_after",
        "email", "next", "saved",
    )
    for value in ("\x00\u202e" + "x" * 600,)
}  # fmt: skip
NUMBERS = {"limit": "99999999999999999999", "after": "-1", "before": "1e400", "recent": "-5"}


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
        await add_other_list(p)
        transport = httpx.ASGITransport(
            app=create_app(settings, p.store), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


async def test_no_console_page_answers_500(app: AppClient) -> None:
    _, client = app
    assert (await console_sign_in(client, "owner@example.org")).status_code == 303
    broken = []
    pages = [r for r in ROUTES if r.method == "GET"]
    for route in pages:
        for params in (HOSTILE, NUMBERS):
            answer = await client.get(route.path, params=params)
            if answer.status_code >= 500:
                broken.append(f"{route.path} {sorted(params)[:3]}…: {answer.status_code}")
    # Path values out of every range: ids past the store's, a NUL, an over-long slug.
    for path in (
        "/admin/cases/%00",
        "/admin/cases/" + "a" * 3000,
        "/admin/updates/99999999999999",
        "/admin/updates/-3",
        "/admin/subscribers/99999999999999",
        "/admin/subscribers/%00",
        "/admin/lists/%00",
        "/admin/lists/" + "b" * 3000 + "/members",
        "/admin/users/%00",
        "/admin/users/" + "c" * 3000,
    ):
        answer = await client.get(path)
        if answer.status_code >= 500:
            broken.append(f"{path[:60]}: {answer.status_code}")
    assert broken == []


#: Every field name a console form has, for the POST sweep.
FIELDS = (
    "email", "name", "role", "lists", "password", "again", "current_password", "new_password",
    "code", "secret", "title", "body", "date", "source", "url", "urgent", "action", "previewed",
    "slug", "country", "status", "summary", "spellings", "letter_address", "letter_guidance",
    "actions", "prayer", "sources", "published", "follows", "cadence", "schedule", "time_zone",
    "channels", "template", "protect_content", "until", "description", "skip_invalid",
)  # fmt: skip
#: Routes that act without reading a field (they would sign out, or remove what the sweep
#: needs); each is tested on its own where it lives.
ACTS_WITHOUT_INPUT = ("logout", "sign-out-everywhere", "/remove", "/erase", "/unsubscribe")


async def test_no_console_form_answers_500(app: AppClient) -> None:
    _, client = app
    assert (await console_sign_in(client, "owner@example.org")).status_code == 303
    page = await client.get("/admin/account")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    broken = []
    for route in ROUTES:
        if route.method != "POST" or any(word in route.path for word in ACTS_WITHOUT_INPUT):
            continue
        for value in ("\x00" + "y" * 20_000, "-99999999999999999999"):
            data = dict.fromkeys(FIELDS, value) | {"csrf": token}
            answer = await client.post(route.path, data=data)
            if answer.status_code >= 500:
                broken.append(f"POST {route.path} {value[:12]!r}: {answer.status_code}")
    assert broken == []
