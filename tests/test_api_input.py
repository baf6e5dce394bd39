"""Hostile input at the admin API, on SQLite and PostgreSQL: a NUL byte, another control
character or half a surrogate pair in a path, a query or a JSON body; ids past the store's
integer range; numbers and booleans that are not JSON's own. Each is a 422 that names the
field, never a 500 (PostgreSQL refuses NUL and out-of-range integers outright), and nothing is
written."""

from __future__ import annotations

import httpx

from notifier.store.updates import get_update
from tests.helpers import AUTH, AppClient


def named(response: httpx.Response, *fields: str) -> list[str]:
    """The messages of a 422 that names exactly these fields."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert sorted(p["field"] for p in detail) == sorted(fields), detail
    return [p["msg"] for p in detail]


async def test_a_nul_in_a_path_or_a_query_is_named(api: AppClient) -> None:
    _, client = api
    for method, path, body, field in [
        ("GET", "/api/cases/a%00b", None, "slug"),
        ("POST", "/api/cases/a%00b/updates", {"title": "x"}, "slug"),
        ("GET", "/api/lists/a%00b", None, "slug"),
        ("GET", "/api/lists/a%00b/digest-preview", None, "slug"),
        ("POST", "/api/lists/a%00b/members", {"email": "b@example.org"}, "slug"),
        ("GET", "/api/subscribers/a%00b", None, "email"),
        ("DELETE", "/api/subscribers/a%00b", None, "email"),
        ("POST", "/api/subscribers/a%00b/reactivate", None, "email"),
        ("POST", "/api/subscribers/a%00b/pause", {"days": 7}, "email"),
        ("POST", "/api/subscribers/a%00b/resume", None, "email"),
        ("GET", "/api/cases?country=a%00b", None, "country"),
        ("GET", "/api/updates?case=a%00b", None, "case"),
        ("GET", "/api/subscribers?list=a%00b", None, "list"),
    ]:
        response = await client.request(method, path, json=body, headers=AUTH)
        [why] = named(response, field)
        assert why == "must not contain a NUL character (U+0000) at character 2", path
    # One-line: a line break or a tab in a path is refused as well.
    [why] = named(await client.get("/api/subscribers/a%0Ab", headers=AUTH), "email")
    assert why.startswith("must be one line")
    # A parameter the route does not read is not looked at.
    listed = await client.get("/api/lists", params={"junk": "a\x00b"}, headers=AUTH)
    assert listed.status_code == 200


async def test_a_nul_or_a_control_character_in_a_json_body_is_named(api: AppClient) -> None:
    p, client = api
    before = (await client.get("/api/subscribers", headers=AUTH)).json()
    for path, body, field in [
        ("/api/cases/kashkumbaev/updates", {"title": "a\x00b"}, "title"),
        ("/api/cases/kashkumbaev/updates", {"title": "x", "body": "a\x00b"}, "body"),
        ("/api/cases/kashkumbaev/updates", {"title": "x", "source": "\x1b[31m"}, "source"),
        ("/api/subscribers", {"email": "b@example.org", "name": "a\x00b"}, "name"),
        ("/api/subscribers", {"email": "b@example.org", "locale": "e\x00n"}, "locale"),
        ("/api/subscribers", {"email": "b@example.org", "follows": ["KZ\x00"]}, "follows.0"),
        ("/api/lists/kazakhstan-prayer-chain/members", {"email": "b@x.org", "name": "\0"}, "name"),
        (
            "/api/cases",
            {"slug": "anna", "name": "Anna", "country": "KZ", "status": "detained",
             "updates": [{"date": "2024-03-01", "title": "De\x00tained"}]},
            "updates.0.title",
        ),
    ]:  # fmt: skip
        response = await client.post(path, json=body, headers=AUTH)
        [why] = named(response, field)
        assert why.startswith(("must not contain a NUL", "must not contain control")), why
    # Half a surrogate pair: JSON can carry it, UTF-8 (and so the store) cannot.
    half = await client.post(
        "/api/subscribers",
        content=b'{"email": "b@example.org", "name": "a\\ud800"}',
        headers=AUTH | {"Content-Type": "application/json"},
    )
    [why] = named(half, "name")
    assert why == "is not valid Unicode: half a surrogate pair (U+D800) at character 2"
    corrected = await client.patch("/api/updates/1", json={"title": "a\x00b"}, headers=AUTH)
    named(corrected, "title")
    # Nothing was written.
    assert (await client.get("/api/subscribers", headers=AUTH)).json() == before
    async with p.store.read() as session:
        assert (await get_update(session, 1)).update.title != "a\x00b"
    missing = await client.get("/api/cases/anna", headers=AUTH)
    assert missing.status_code == 404
    no_language = await client.post(
        "/api/subscribers", json={"email": "b@example.org", "locale": "klingon!"}, headers=AUTH
    )
    [why] = named(no_language, "locale")
    assert why == "'klingon!' is not a language: give a tag such as de, ru or pt-BR"
    assert (await client.get("/api/subscribers", headers=AUTH)).json() == before


async def test_a_name_is_one_line_and_a_body_may_have_many(api: AppClient) -> None:
    _, client = api
    for name in ("Anna\r\nBcc: someone@example.org", "Anna\tIvanova", "Anna\u2028Ivanova"):
        response = await client.post(
            "/api/subscribers", json={"email": "b@example.org", "name": name}, headers=AUTH
        )
        [why] = named(response, "name")
        assert why.startswith(("must be one line", "must not contain a tab")), why
    posted = await client.post(
        "/api/cases/kashkumbaev/updates",
        json={"title": "Appeal", "body": "First line.\r\n\tSecond line."},
        headers=AUTH,
    )
    assert posted.status_code == 201


async def test_ids_past_the_store_range_are_refused_not_a_crash(api: AppClient) -> None:
    _, client = api
    for huge in ("4611686018427387903", "2147483648", "99999999999999999999999"):
        named(await client.patch(f"/api/updates/{huge}", json={}, headers=AUTH), "update_id")
        named(await client.post(f"/api/updates/{huge}/withdraw", headers=AUTH), "update_id")
    named(
        await client.post("/api/outbox/retry", json={"ids": [4611686018427387903]}, headers=AUTH),
        "ids.0",
    )
    # The largest id the store can hand out is looked up like any other.
    last = await client.patch("/api/updates/2147483647", json={}, headers=AUTH)
    assert last.status_code == 404
    assert last.json()["message"] == "no update 2147483647 (see `notifier updates list`)"


async def test_json_types_are_json_schemas_not_pydantics_lax_ones(api: AppClient) -> None:
    _, client = api
    for body, field in [
        ({"title": "x", "urgent": 0}, "urgent"),
        ({"title": "x", "urgent": "true"}, "urgent"),
        ({"title": "x", "date": 0}, "date"),  # lax pydantic: 1 January 1970
        ({"title": 7}, "title"),
    ]:
        response = await client.post("/api/cases/kashkumbaev/updates", json=body, headers=AUTH)
        named(response, field)
    named(await client.patch("/api/updates/1", json={"urgent": 1}, headers=AUTH), "urgent")
    named(await client.post("/api/outbox/retry", json={"failed": 1}, headers=AUTH), "failed")
    named(await client.post("/api/outbox/retry", json={"ids": ["7"]}, headers=AUTH), "ids.0")
    paused = await client.post(
        "/api/subscribers/x@example.org/pause", json={"days": "7"}, headers=AUTH
    )
    named(paused, "days")
    case = {"slug": "anna", "name": "Anna", "country": "KZ", "status": "detained"}
    named(await client.post("/api/cases", json=case | {"published": 0}, headers=AUTH), "published")
    for nothing in ({}, {"ids": [], "failed": False}):
        [why] = named(await client.post("/api/outbox/retry", json=nothing, headers=AUTH), "body")
        assert why == "give ids or failed: true"
    # What JSON Schema calls an integer is one: 7.0 is 7.
    retried = await client.post("/api/outbox/retry", json={"ids": [7.0]}, headers=AUTH)
    assert retried.json() == {"queued": 0}
    urgent = await client.post(
        "/api/cases/kashkumbaev/updates", json={"title": "x", "urgent": True}, headers=AUTH
    )
    assert urgent.status_code == 201
