"""Each web request is logged once, on the `notifier.web` logger: method, path, status and
milliseconds. A link's token is a key to someone's subscription: it never reaches the log."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
from starlette.routing import Route

from notifier.config import Settings
from notifier.links import PREFERENCES, UNSUBSCRIBE, Links
from notifier.service import Pipeline
from notifier.store.engine import open_store
from notifier.web.app import ROUTERS, create_app, serve
from tests.live_server import free_port

LINE = re.compile(r"(GET|POST|PUT) (\S+) (\d{3}) \d+\.\d ms")


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, int]]:
    lines = []
    for record in caplog.records:
        if record.name == "notifier.web":
            found = LINE.fullmatch(record.getMessage())
            assert found is not None, record.getMessage()
            lines.append((found[1], found[2], int(found[3])))
    return lines


async def test_a_line_per_request_and_never_a_token(
    web: tuple[Pipeline, httpx.AsyncClient],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, client = web
    caplog.set_level(logging.INFO, logger="notifier.web")
    links = Links.from_settings(settings)
    unsubscribe = links.token(UNSUBSCRIBE, 1, 1)
    preferences = links.token(PREFERENCES, 1, 1)
    confirm = links.confirm_url(1, 1).rsplit("/", 1)[1]
    digest = links.digest_url(1).rsplit("/", 1)[1]
    tokens = [unsubscribe, preferences, confirm, digest]
    await client.get(f"/unsubscribe/{unsubscribe}")
    await client.post(f"/unsubscribe/{unsubscribe}", data={"List-Unsubscribe": "One-Click"})
    await client.get(f"/preferences/{preferences}")
    await client.get(f"/confirm/{confirm}")
    await client.get(f"/digests/{digest}")
    await client.get(f"/unsubscribe/{unsubscribe}/more")  # no such route: masked all the same
    await client.get("/healthz", params={"token": unsubscribe})  # query strings are left out
    await client.put("/api/cases")
    assert logged(caplog) == [
        ("GET", "/unsubscribe/…", 200),
        ("POST", "/unsubscribe/…", 200),
        ("GET", "/preferences/…", 200),
        ("GET", "/confirm/…", 200),
        ("GET", "/digests/…", 410),
        ("GET", "/unsubscribe/…", 404),
        ("GET", "/healthz", 200),
        ("PUT", "/api/cases", 405),
    ]
    assert not [r for r in caplog.records for t in tokens if t in r.getMessage()]


async def test_every_route_with_a_token_is_masked(
    web: tuple[Pipeline, httpx.AsyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A route added later with a {token} in its path is masked too."""
    _, client = web
    caplog.set_level(logging.INFO, logger="notifier.web")
    paths = {r.path for router in ROUTERS for r in router.routes if isinstance(r, Route)}
    paths = {p for p in paths if "{token}" in p}
    assert len(paths) >= 4
    for path in paths:
        await client.get(path.replace("{token}", "secret-token-value"))
    assert len(logged(caplog)) == len(paths)
    assert not [r for r in caplog.records if "secret-token-value" in r.getMessage()]


async def test_the_served_app_logs_each_request_once(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Through uvicorn, as `notifier run` and `notifier web` serve it: its own access log is
    off, so a request is one line, not two."""
    caplog.set_level(logging.INFO)
    access = logging.getLogger("uvicorn.access")  # uvicorn's does not reach the root logger
    access.addHandler(caplog.handler)
    configured = settings.model_copy(update={"web_host": "127.0.0.1", "web_port": free_port()})
    try:
        async with open_store(configured) as store:
            stop = asyncio.Event()
            serving = asyncio.create_task(serve(create_app(configured, store), configured, stop))
            url = f"http://127.0.0.1:{configured.web_port}/healthz"
            async with httpx.AsyncClient() as client:
                while True:  # until it listens
                    try:
                        answer = await client.get(url)
                        break
                    except httpx.ConnectError:
                        if serving.done():  # it could not listen: say why
                            await serving
                        await asyncio.sleep(0.05)
            stop.set()
            await serving
    finally:
        access.removeHandler(caplog.handler)
    assert answer.status_code == 200
    server_side = [r for r in caplog.records if r.name.startswith(("notifier", "uvicorn"))]
    lines = [(r.name, r.getMessage().split(" ")[:3]) for r in server_side]
    assert [line for line in lines if "/healthz" in line[1]] == [
        ("notifier.web", ["GET", "/healthz", "200"])
    ]
