"""Who may use which API route, from one table: role × route → the answer. A user's own token
acts with the user's role; a coordinator's reaches only their lists and those lists' members;
the configured token is an owner. A refusal is a 403 in the API's one error shape, naming what
was refused, and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from starlette.routing import Match

from notifier import app as tasks
from notifier.domain import Consent, Role
from notifier.domain.actors import Actor
from notifier.domain.list_specs import ListSpec
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.service import Pipeline
from notifier.store.models import AuditEntry
from notifier.web.api import ROUTE_ACCESS, router
from tests.helpers import AUTH, CHAIN

BY = Actor.cli("tester")
OTHER = "other-chain"
MEMBER = "anna.petrova@example.org"  # on CHAIN
MEMBER_2 = "david.okafor@example.org"  # on CHAIN
OUTSIDER = "outsider@example.org"  # on OTHER only
ROLES = ("api-token", "owner", "editor", "coordinator")
EVERYONE = frozenset(ROLES)
OWNERS = frozenset({"api-token", "owner"})
EDITORS = OWNERS | {"editor"}
COORDINATORS = OWNERS | {"coordinator"}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    #: Who may: they get `status`; everyone else a 403.
    who: frozenset[str]
    status: int = 200
    json: Any = None
    params: dict[str, Any] | None = None


def _case_body() -> dict[str, Any]:
    spec = load_case_files(sample_case_files())[0]
    return spec.model_dump(mode="json", exclude_none=True)


#: In order: reads first, then writes that leave what the later ones need.
CALLS = [
    Call("GET", "/api/cases", EVERYONE),
    Call("GET", "/api/cases/kashkumbaev", EVERYONE),
    Call("GET", "/api/updates", EVERYONE),
    Call("GET", "/api/lists", EVERYONE),
    Call("GET", f"/api/lists/{CHAIN}", EVERYONE),
    Call("GET", f"/api/lists/{OTHER}", EDITORS),
    Call("GET", f"/api/lists/{CHAIN}/digest-preview", EVERYONE),
    Call("GET", f"/api/lists/{OTHER}/digest-preview", EDITORS),
    Call("GET", "/api/subscribers", EVERYONE),
    Call("GET", "/api/subscribers", EVERYONE, params={"list": CHAIN}),
    Call("GET", "/api/subscribers", EDITORS, params={"list": OTHER}),
    Call("GET", f"/api/subscribers/{MEMBER}", EVERYONE),
    Call("GET", f"/api/subscribers/{OUTSIDER}", EDITORS),
    Call("GET", "/api/outbox", EDITORS),
    Call("GET", "/api/audit", OWNERS),
    Call("POST", "/api/cases", EDITORS, 201, json=_case_body()),
    Call("POST", "/api/cases/kashkumbaev/updates", EDITORS, 201, json={"title": "Heard"}),
    Call("PATCH", "/api/updates/1", EDITORS, json={"title": "Appeal heard"}),
    Call("POST", "/api/updates/1/withdraw", EDITORS),
    Call(
        "POST",
        "/api/subscribers",
        COORDINATORS,
        201,
        json={"email": "n@example.org", "list": CHAIN},
    ),
    Call("POST", "/api/subscribers", OWNERS, 201, json={"email": "m@example.org"}),
    Call("POST", "/api/subscribers", OWNERS, 201, json={"email": "o@example.org", "list": OTHER}),
    Call("POST", f"/api/subscribers/{MEMBER}/pause", COORDINATORS, json={"days": 3}),
    Call("POST", f"/api/subscribers/{MEMBER}/resume", COORDINATORS),
    Call("POST", f"/api/subscribers/{OUTSIDER}/pause", OWNERS, json={"days": 3}),
    Call("POST", f"/api/subscribers/{MEMBER}/reactivate", COORDINATORS, 409),  # not bounced
    Call("POST", f"/api/subscribers/{OUTSIDER}/reactivate", OWNERS, 409),
    Call("POST", f"/api/lists/{CHAIN}/members", COORDINATORS, 201, json={"email": "x@example.org"}),
    Call("POST", f"/api/lists/{OTHER}/members", OWNERS, 201, json={"email": "y@example.org"}),
    Call("POST", "/api/outbox/retry", OWNERS, json={"failed": True}),
    Call("DELETE", f"/api/subscribers/{MEMBER_2}", COORDINATORS),
    Call("DELETE", f"/api/subscribers/{OUTSIDER}", OWNERS),
]


def test_the_table_covers_every_route() -> None:
    assert {r.name for r in router.routes if isinstance(r, APIRoute)} == set(ROUTE_ACCESS)
    scopes = [{"type": "http", "path": c.path, "method": c.method} for c in CALLS]
    for route in router.routes:
        assert any(route.matches(s)[0] is Match.FULL for s in scopes), route


async def _headers(p: Pipeline, role: str) -> dict[str, str]:
    if role == "api-token":
        return AUTH
    email = f"{role}@example.org"
    lists = [CHAIN] if role == "coordinator" else []
    await tasks.add_user(p.store, email, role, lists, by=BY, where="t")
    actor = Actor.console_user(email, Role(role), frozenset(lists))
    _, clear = await tasks.create_token(p.store, actor, "tests")
    return {"Authorization": f"Bearer {clear}"}


async def _audit_count(p: Pipeline) -> int:
    async with p.store.read() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_on_each_route(api: tuple[Pipeline, httpx.AsyncClient], role: str) -> None:
    p, client = api
    other = ListSpec(slug=OTHER, name="Other chain", follows=["country=KZ"])
    await tasks.apply_lists(p.store, p.settings, [(p.settings.data_dir, other)], by=BY)
    await tasks.add_member(p.store, p.settings, OTHER, OUTSIDER, by=BY, where="t",
                           consent=Consent.CLI)  # fmt: skip
    headers = await _headers(p, role)
    answers = []
    for call in CALLS:
        before = await _audit_count(p)
        response = await client.request(
            call.method, call.path, json=call.json, params=call.params, headers=headers
        )
        wanted = call.status if role in call.who else 403
        answers.append((call.method, call.path, call.params, response.status_code, wanted))
        if response.status_code == 403:
            body = response.json()
            assert body["detail"] == []
            assert "may not" in body["message"]
            assert await _audit_count(p) == before, call  # refused: nothing written
    assert [a[:4] for a in answers] == [(*a[:3], a[4]) for a in answers]

    if role == "coordinator":
        lists = (await client.get("/api/lists", headers=headers)).json()
        assert [m["slug"] for m in lists] == [CHAIN]
        rows = (await client.get("/api/subscribers", headers=headers)).json()
        assert OUTSIDER not in {r["email"] for r in rows}
        assert all(CHAIN in r["lists"].split() for r in rows)
