"""The admin API through httpx against the real app: the bearer token, what the CLI covers for
cases, updates, subscribers and lists, the outbox, and clear 4xx answers for bad input."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from notifier.domain import SubscriberStatus
from notifier.service import Pipeline
from notifier.store.models import Subscriber
from notifier.watch import watch_once
from tests.helpers import AUTH


async def test_without_the_token_everything_is_refused(
    api: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    _, client = api
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = await client.get("/api/cases", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    spec = (await client.get("/openapi.json")).json()
    assert "/api/cases/{slug}/updates" in spec["paths"]
    assert "/api/updates/{update_id}/withdraw" in spec["paths"]


async def test_a_non_ascii_bearer_token_is_refused_not_a_crash(
    api: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    _, client = api
    odd = {"Authorization": "Bearer \xe9t\xe9".encode("latin-1")}
    response = await client.get("/api/cases", headers=odd)  # type: ignore[arg-type]
    assert response.status_code == 401


async def test_cases_and_updates(api: tuple[Pipeline, httpx.AsyncClient]) -> None:
    p, client = api
    listed = (await client.get("/api/cases", params={"country": "Kazakhstan"}, headers=AUTH)).json()
    assert [c["slug"] for c in listed] == ["bakhytzhan-kashkumbayev", "makhset-djabbarbergenov"]
    unknown = await client.get("/api/cases", params={"country": "Atlantis"}, headers=AUTH)
    assert unknown.status_code == 404
    assert "unknown country 'Atlantis'" in unknown.json()["message"]
    one = (await client.get("/api/cases/Kashkumbaev", headers=AUTH)).json()
    assert one["letter"]["address"].startswith("Bakhytzhan Kashkumbaev")

    posted = await client.post(
        "/api/cases/kashkumbaev/updates",
        json={"title": "Appeal heard", "date": "2024-05-01", "source": "Forum 18",
              "url": "https://www.forum18.org/", "urgent": True},
        headers=AUTH,
    )  # fmt: skip
    assert posted.status_code == 201
    assert posted.json()["created"] is True
    assert (await watch_once(p.store)).alerts == 4  # urgent: the weekly list's members now
    again = await client.post(
        "/api/cases/kashkumbaev/updates",
        json={"title": "Appeal heard", "date": "2024-05-01"},
        headers=AUTH,
    )
    assert again.json()["created"] is False

    bad = await client.post(
        "/api/cases/kashkumbaev/updates",
        json={"title": "", "date": "yesterday", "url": "not a url", "colour": "red"},
        headers=AUTH,
    )
    assert bad.status_code == 422
    fields = {tuple(e["loc"][1:]) for e in bad.json()["detail"]}
    assert {("title",), ("date",), ("url",), ("colour",)} <= fields
    missing = await client.post("/api/cases/nobody/updates", json={"title": "x"}, headers=AUTH)
    assert missing.status_code == 404

    # The latest updates, with their alerts; correcting and withdrawing one.
    update_id = posted.json()["id"]
    latest = (await client.get("/api/updates", params={"limit": 1}, headers=AUTH)).json()
    assert [(u["id"], u["alerts"]) for u in latest] == [(update_id, {"pending": 4})]
    corrected = await client.patch(
        f"/api/updates/{update_id}", json={"title": "Appeal heard in Almaty"}, headers=AUTH
    )
    assert (corrected.json()["title"], corrected.json()["changed"]) == (
        "Appeal heard in Almaty",
        ["title"],
    )
    assert corrected.json()["edited_at"] is not None
    withdrawn = await client.post(f"/api/updates/{update_id}/withdraw", headers=AUTH)
    assert withdrawn.json()["stopped"] == 4
    assert withdrawn.json()["alerts"] == {"suppressed": 4}
    too_late = await client.patch(
        f"/api/updates/{update_id}", json={"title": "Again"}, headers=AUTH
    )
    assert too_late.status_code == 409  # a conflict with what the store holds, not bad input
    assert too_late.json()["detail"][0]["msg"] == f"update {update_id} was withdrawn"
    assert (await client.patch("/api/updates/999999", json={}, headers=AUTH)).status_code == 404
    assert (
        await client.patch(f"/api/updates/{update_id}", json={"title": ""}, headers=AUTH)
    ).status_code == 422
    assert (
        await client.get("/api/updates", params={"case": "nobody"}, headers=AUTH)
    ).status_code == 404

    created = await client.post(
        "/api/cases",
        json={"slug": "anna-example", "name": "Anna Example", "country": "KZ",
              "status": "detained", "updates": [{"date": "2024-03-01", "title": "Detained"}]},
        headers=AUTH,
    )  # fmt: skip
    assert created.status_code == 201
    assert created.json() == {
        "created": True, "changed": False, "updates_added": 1, "updates_changed": 0,
    }  # fmt: skip
    wrong = await client.post(
        "/api/cases", json={"slug": "Bad Slug", "name": "x", "country": "XX"}, headers=AUTH
    )
    assert wrong.status_code == 422


async def test_subscribers_lists_and_outbox(api: tuple[Pipeline, httpx.AsyncClient]) -> None:
    p, client = api
    added = await client.post(
        "/api/subscribers",
        json={"email": "Ben@Example.org", "name": "Ben", "follows": ["country=KZ"],
              "cadence": "weekly", "list": "kazakhstan-prayer-chain"},
        headers=AUTH,
    )  # fmt: skip
    assert added.status_code == 201
    assert added.json()["follows"] == "country=KZ:weekly:email"
    ben = (await client.get("/api/subscribers/ben@example.org", headers=AUTH)).json()
    assert (ben["name"], ben["follows"], ben["paused_until"]) == (
        "Ben",
        ["country=KZ:weekly:email"],
        None,
    )
    assert ben["lists"] == [{"list": "kazakhstan-prayer-chain", "source": "import"}]
    members = (await client.get("/api/lists/kazakhstan-prayer-chain", headers=AUTH)).json()
    assert {"email": "ben@example.org", "name": "Ben", "status": "active", "source": "import"} in (
        members["members"]
    )
    joined = await client.post(
        "/api/lists/kazakhstan-prayer-chain/members", json={"email": "c@example.org"}, headers=AUTH
    )
    assert joined.json() == {"email": "c@example.org", "joined": True}
    assert len((await client.get("/api/lists", headers=AUTH)).json()) == 1
    bad = await client.post(
        "/api/subscribers", json={"email": "nope", "follows": ["country=Atlantis"]}, headers=AUTH
    )
    assert bad.status_code == 422
    scheduled = await client.post(
        "/api/subscribers",
        json={"email": "a@example.org", "time_zone": "Asia/Almaty", "digest_schedule": "fri 18:30"},
        headers=AUTH,
    )
    assert (scheduled.json()["time_zone"], scheduled.json()["digest_schedule"]) == (
        "Asia/Almaty",
        "fri 18:30",
    )
    for field, value, problem in [
        ("time_zone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("digest_schedule", "fri 25:00", "no such time of day"),
    ]:
        refused = await client.post(
            "/api/subscribers", json={"email": "e@example.org", field: value}, headers=AUTH
        )
        assert refused.status_code == 422
        [named] = refused.json()["detail"]
        assert named["field"] == field
        assert problem in named["msg"]
    no_list = await client.post(
        "/api/subscribers", json={"email": "d@example.org", "list": "nope"}, headers=AUTH
    )
    assert no_list.status_code == 404
    gone = await client.delete("/api/subscribers/ben@example.org", headers=AUTH)
    assert gone.json()["result"] == "unsubscribed"
    # Only a bounce is undone by an administrator; leaving was Ben's choice.
    refused = await client.post("/api/subscribers/ben@example.org/reactivate", headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["detail"][0]["field"] == "status"
    async with p.store.transaction() as session:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.email == "ben@example.org")
            .values(status=SubscriberStatus.BOUNCED)
        )
    back = await client.post("/api/subscribers/ben@example.org/reactivate", headers=AUTH)
    assert back.json()["status"] == "active"
    nobody = await client.post("/api/subscribers/x@example.org/reactivate", headers=AUTH)
    assert nobody.status_code == 404
    paused = await client.post(
        "/api/subscribers/ben@example.org/pause", json={"days": 14}, headers=AUTH
    )
    assert paused.json()["paused_until"] is not None
    too_long = await client.post(
        "/api/subscribers/ben@example.org/pause", json={"days": 400}, headers=AUTH
    )
    assert too_long.status_code == 422
    resumed = await client.post("/api/subscribers/ben@example.org/resume", headers=AUTH)
    assert resumed.json()["paused_until"] is None

    assert (await client.get("/api/outbox", headers=AUTH)).json() == []
    assert (await client.post("/api/outbox/retry", json={"failed": True}, headers=AUTH)).json() == {
        "queued": 0
    }
    assert (await client.post("/api/outbox/retry", json={}, headers=AUTH)).status_code == 422
    assert (
        await client.get("/api/outbox", params={"status": "lost"}, headers=AUTH)
    ).status_code == 422
    preview = await client.get(
        "/api/lists/kazakhstan-prayer-chain/digest-preview",
        params={"recent": 1, "format": "telegram"},
        headers=AUTH,
    )
    assert preview.json()["body"].startswith("<b>Kazakhstan prayer chain</b>")


async def test_digits_that_int_refuses_are_not_numbers(
    api: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    """Found by schemathesis: "³".isdigit() is True, int("³") raises; a lookup by chat id
    must answer 404, not 500."""
    _, client = api
    for path in ("/api/subscribers/%C2%B3", "/api/subscribers/-%D9%A1"):
        assert (await client.get(path, headers=AUTH)).status_code == 404
        assert (await client.delete(path, headers=AUTH)).status_code == 404
