"""Role by route: every console route, requested by an owner, an editor and a coordinator,
passes or gets the 403 page exactly as tests/console_routes.py says, on the server. A POST
is sent without its form token: one that passes the role check is then refused for the token
(nothing changes), one that does not is refused for the role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIRoute

from notifier.config import Settings
from notifier.service import pipeline
from notifier.web import console
from notifier.web.app import create_app
from tests.console_routes import PUBLIC, ROUTES, Route
from tests.helpers import (
    CONSOLE_USERS,
    AppClient,
    add_console_users,
    add_other_list,
    console_sign_in,
    seed,
)

NOT_YOURS = "not open to you"
OLD_FORM = "The form was from an old page"


def test_every_console_route_is_in_the_table() -> None:
    declared = {
        (method, route.path)
        for router in console.ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method != "HEAD"
    }
    tabled = {(r.method, r.template) for r in ROUTES}
    assert declared - PUBLIC - tabled == set(), "console routes missing from the table"
    assert tabled - declared == set(), "routes in the table the console does not have"


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
        await add_other_list(p)
        transport = httpx.ASGITransport(app=create_app(settings, p.store))
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


async def _check(client: httpx.AsyncClient, role: str, route: Route) -> str | None:
    """What is wrong with the answer to `route` for `role` (None: as the table says)."""
    if route.method == "GET":
        answer = await client.get(route.path)
        refused = answer.status_code == 403 and NOT_YOURS in answer.text
        passed = answer.status_code in (200, 303) and not refused
    else:
        answer = await client.post(route.path, data=route.data)
        refused = answer.status_code == 403 and NOT_YOURS in answer.text
        passed = answer.status_code == 403 and OLD_FORM in answer.text
    expected = role in route.allowed
    if (passed if expected else refused) and passed != refused:
        return None
    want = "pass" if expected else "403"
    return f"{role} {route.method} {route.path}: wanted {want}, got {answer.status_code}"


@pytest.mark.parametrize("who", [email for email, _, _ in CONSOLE_USERS])
async def test_each_role_reaches_what_the_table_says(app: AppClient, who: str) -> None:
    _, client = app
    role = next(r for email, r, _ in CONSOLE_USERS if email == who)
    assert (await console_sign_in(client, who)).status_code == 303
    wrong = [problem for route in ROUTES if (problem := await _check(client, role, route))]
    assert wrong == []
