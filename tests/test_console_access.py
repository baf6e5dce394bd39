"""The console's door: signing in and out, sessions kept in the store (logout, sign out
everywhere, idle and absolute timeouts), cookies, form tokens, the sign-in rate limit, the
second factor, set-password links, and a role's reach checked on the server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from notifier.app import sessions
from notifier.config import Settings
from notifier.domain.actors import Actor
from notifier.service import Pipeline, pipeline
from notifier.store.models import AuditEntry, ConsoleSession, utcnow
from notifier.web.app import create_app
from tests.helpers import (
    CONSOLE_PASSWORD,
    AppClient,
    add_console_users,
    console_form,
    console_sign_in,
    form,
    seed,
)

OWNER, EDITOR, COORDINATOR = "owner@example.org", "editor@example.org", "coordinator@example.org"


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
        transport = httpx.ASGITransport(app=create_app(settings, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


def client_of(p: Pipeline) -> httpx.AsyncClient:
    """Another browser on the same app."""
    transport = httpx.ASGITransport(app=create_app(p.settings, p.store))
    return httpx.AsyncClient(transport=transport, base_url=p.settings.public_url)


async def test_a_page_sends_a_stranger_to_sign_in_and_back(console: AppClient) -> None:
    _p, client = console
    answer = await client.get("/admin/users")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=/admin/users"
    signed = await console_sign_in(client, OWNER)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "notifier_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # public_url is http here
    users = await client.get("/admin/users")
    assert users.status_code == 200
    assert EDITOR in users.text
    assert COORDINATOR in users.text


async def test_cookies_are_secure_when_the_site_is_https(settings: Settings) -> None:
    configured = settings.model_copy(update={"public_url": "https://news.example.org"})
    async with pipeline(configured) as p:
        await seed(p)
        await add_console_users(p)
        transport = httpx.ASGITransport(app=create_app(configured, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=configured.public_url) as c:
            signed = await console_sign_in(c, OWNER)
            assert signed.status_code == 303
            assert "Secure" in signed.headers["set-cookie"]


async def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(
    console: AppClient,
) -> None:
    _p, client = console
    wrong = await console_sign_in(client, OWNER, "not the password at all")
    unknown = await console_sign_in(client, "nobody@example.org", CONSOLE_PASSWORD)
    assert wrong.status_code == unknown.status_code == 400
    assert sessions.WRONG in wrong.text
    assert sessions.WRONG in unknown.text
    assert "notifier_session" not in wrong.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("email", "password", "named"),
    [
        ("owner@example.org\x00", CONSOLE_PASSWORD, "NUL"),
        ("o" * 400 + "@example.org", CONSOLE_PASSWORD, "at most 320"),
        (OWNER, "x" * 2000, "at most 1000"),
    ],
)
async def test_bad_sign_in_input_is_named_not_a_500(
    console: AppClient, email: str, password: str, named: str
) -> None:
    _, client = console
    answer = await console_sign_in(client, email, password)
    assert answer.status_code == 400
    assert named in answer.text


async def test_sign_in_is_rate_limited_per_account(console: AppClient) -> None:
    _p, client = console
    for _ in range(5):
        assert (await console_sign_in(client, EDITOR, "wrong password here")).status_code == 400
    # The right password no longer helps: no password is checked until the window passes.
    blocked = await console_sign_in(client, EDITOR, CONSOLE_PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    # Another account from the same client still gets in.
    assert (await console_sign_in(client, OWNER)).status_code == 303


async def test_a_form_without_the_session_token_changes_nothing(console: AppClient) -> None:
    _p, client = console
    await console_sign_in(client, OWNER)
    answer = await client.post(
        "/admin/users", data={"email": "new@example.org", "role": "editor", "csrf": "forged"}
    )
    assert answer.status_code == 403
    assert "nothing was changed" in answer.text
    assert "new@example.org" not in (await client.get("/admin/users")).text


async def test_logout_ends_the_session_for_good(console: AppClient) -> None:
    p, client = console
    await console_sign_in(client, OWNER)
    old = client.cookies.get("notifier_session", path="/admin")
    assert old is not None
    token = await console_form(client, "/admin/account")
    out = await client.post("/admin/logout", data={"csrf": token})
    assert out.status_code == 303
    # The old cookie, replayed, opens nothing: the session is gone from the store.
    async with client_of(p) as replay:
        replay.cookies.set("notifier_session", old, path="/admin")
        assert (await replay.get("/admin/users")).status_code == 303
    async with p.store.read() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 0


async def test_sign_out_everywhere_ends_every_session(console: AppClient) -> None:
    p, client = console
    async with client_of(p) as other:
        await console_sign_in(other, OWNER)
        await console_sign_in(client, OWNER)
        account = await client.get("/admin/account")
        assert account.text.count("<tr><td>") == 2  # two browsers signed in
        token = await console_form(client, "/admin/account")
        await client.post("/admin/sign-out-everywhere", data={"csrf": token})
        assert (await other.get("/admin/users")).status_code == 303
        assert (await client.get("/admin/users")).status_code == 303


async def test_sessions_time_out_idle_and_in_all(console: AppClient) -> None:
    p, _client = console
    started = await sessions.sign_in(p.store, OWNER, CONSOLE_PASSWORD, client="test")
    now = utcnow()
    assert await sessions.current(p.store, p.settings, started.token, now=now) is not None
    idle = now + timedelta(minutes=p.settings.console_idle_minutes, seconds=1)
    assert await sessions.current(p.store, p.settings, started.token, now=idle) is None
    # Ended, not just refused: it does not come back.
    assert await sessions.current(p.store, p.settings, started.token, now=now) is None
    # Busy all along, a session still ends after console_session_hours.
    busy = await sessions.sign_in(p.store, OWNER, CONSOLE_PASSWORD, client="test")
    moment = utcnow()
    for _ in range(p.settings.console_session_hours * 3):
        moment += timedelta(minutes=20)
        found = await sessions.current(p.store, p.settings, busy.token, now=moment)
        if found is None:
            break
    assert found is None
    assert moment - now <= timedelta(hours=p.settings.console_session_hours, minutes=40)


async def test_roles_reach_only_their_sections(console: AppClient) -> None:
    p, client = console
    await console_sign_in(client, EDITOR)
    refused = await client.get("/admin/users")
    assert refused.status_code == 403
    assert "your role (editor) may not change users" in refused.text
    async with client_of(p) as other:
        await console_sign_in(other, COORDINATOR)
        assert (await other.get("/admin/users")).status_code == 403


async def test_a_second_factor_guards_the_next_sign_in(console: AppClient) -> None:
    p, client = console
    await console_sign_in(client, EDITOR)
    setup = await client.get("/admin/account/second-factor")
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', setup.text)
    assert secret is not None
    token = await console_form(client, "/admin/account/second-factor")
    wrong = await client.post(
        "/admin/account/second-factor",
        data={"csrf": token, "secret": secret.group(1), "code": "000000x"},
    )
    assert wrong.status_code == 400
    assert "Code: that code is not right" in wrong.text
    totp = pyotp.TOTP(secret.group(1))
    moment = datetime.now(UTC)
    code = totp.at(moment)
    on = await client.post(
        "/admin/account/second-factor",
        data={"csrf": token, "secret": secret.group(1), "code": code},
    )
    assert on.status_code == 303
    # The next step's code (a phone a little ahead is allowed for): each code signs in once.
    following = totp.at(moment + timedelta(seconds=30))
    async with client_of(p) as other:
        signed = await console_sign_in(other, EDITOR)
        assert signed.headers["location"].startswith("/admin/code")
        # Until the code is given, nothing else opens.
        assert (await other.get("/admin/account")).headers["location"] == "/admin/code"
        page_token = await form(other, "/admin/code")
        bad = await other.post("/admin/code", data={"csrf": page_token, "code": "123"})
        assert bad.status_code == 400
        spent = await other.post("/admin/code", data={"csrf": page_token, "code": code})
        assert spent.status_code == 400  # the code that turned it on
        assert "that code was used already" in spent.text
        good = await other.post("/admin/code", data={"csrf": page_token, "code": following})
        assert good.status_code == 303
        assert (await other.get("/admin/account")).status_code == 200
    async with client_of(p) as third:  # someone who saw that code over a shoulder
        await console_sign_in(third, EDITOR)
        page_token = await form(third, "/admin/code")
        again = await third.post("/admin/code", data={"csrf": page_token, "code": following})
        assert again.status_code == 400
        assert "that code was used already" in again.text
        assert (await third.get("/admin/account")).headers["location"] == "/admin/code"


async def test_owners_must_set_a_second_factor_when_the_settings_say_so(
    settings: Settings,
) -> None:
    configured = settings.model_copy(update={"console_owner_totp": True})
    async with pipeline(configured) as p:
        await seed(p)
        await add_console_users(p)
        transport = httpx.ASGITransport(app=create_app(configured, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=configured.public_url) as c:
            await console_sign_in(c, OWNER)
            answer = await c.get("/admin/users")
            assert answer.headers["location"] == "/admin/account/second-factor"
            assert (await c.get("/admin/account/second-factor")).status_code == 200


async def test_a_set_password_link_works_once(console: AppClient) -> None:
    p, client = console
    link = await sessions.issue_reset(p.store, p.settings, Actor.cli("tester"), EDITOR)
    path = link.removeprefix(p.settings.public_url)
    token = await form(client, path)
    differ = await client.post(path, data={"csrf": token, "password": "a" * 12, "again": "b" * 12})
    assert differ.status_code == 400
    assert "the two passwords differ" in differ.text
    short = await client.post(path, data={"csrf": token, "password": "short", "again": "short"})
    assert short.status_code == 400
    assert "at least 12 characters" in short.text
    new = "a new and long passphrase"
    done = await client.post(path, data={"csrf": token, "password": new, "again": new})
    assert done.status_code == 303
    assert (await client.get(path)).status_code == 404  # spent
    assert (await console_sign_in(client, EDITOR, new)).status_code == 303
    async with p.store.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[:2] == ["user.reset-password", "user.set-password"]


async def test_an_owner_adds_a_user_who_gets_a_link(console: AppClient) -> None:
    p, client = console
    await console_sign_in(client, OWNER)
    token = await console_form(client, "/admin/users")
    bad = await client.post(
        "/admin/users",
        data={"csrf": token, "email": "not an address", "role": "coordinator"},
    )
    assert bad.status_code == 400
    assert 'value="not an address"' in bad.text  # the form keeps what was typed
    assert "a coordinator needs the lists they run" in bad.text
    added = await client.post(
        "/admin/users",
        data={
            "csrf": token,
            "email": "Chain@Example.org",
            "role": "coordinator",
            "lists": "kazakhstan-prayer-chain",
        },
    )
    assert added.status_code == 201
    assert f"{p.settings.public_url}/admin/set-password/" in added.text


async def test_timed_out_sessions_are_tidied_away(console: AppClient) -> None:
    p, _ = console
    old = await sessions.sign_in(p.store, OWNER, CONSOLE_PASSWORD, client="test")
    assert old.token
    later = utcnow() + timedelta(minutes=p.settings.console_idle_minutes + 1)
    fresh = await sessions.sign_in(p.store, EDITOR, CONSOLE_PASSWORD, client="t", now=later)
    assert await sessions.prune_sessions(p.store, p.settings, now=later) == 1
    assert await sessions.current(p.store, p.settings, fresh.token, now=later) is not None
