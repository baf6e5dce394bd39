"""`/` through the real app: a page naming the network, with its prayer chains and their sign-up
pages, in the same layout as the other pages; not a JSON 404."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest

from notifier.config import Settings
from notifier.ingest.list_files import load_list_files
from notifier.service import Pipeline, pipeline
from notifier.store.lists import apply_lists
from notifier.store.models import MailingList
from notifier.web.app import create_app
from tests.helpers import EXAMPLE_LISTS

NETWORK = "Kazakhstan <Prayer> & Friends"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, str] = {}
        self._href: str | None = None
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a":
            self._href = found.get("href") or ""
        for name in ("src", "srcset"):
            if found.get(name):
                self.sources.append(found[name] or "")
        if tag == "link" and found.get("href"):
            self.sources.append(found["href"] or "")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links[" ".join(data.split())] = self._href

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


def parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[tuple[Pipeline, httpx.AsyncClient]]:
    configured = settings.model_copy(
        update={"network_name": NETWORK, "public_url": "https://news.example.org/prayer"}
    )
    async with pipeline(configured) as p:
        transport = httpx.ASGITransport(app=create_app(configured, p.store))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield p, c


async def test_the_home_page_names_the_network_and_its_lists(
    client: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    p, c = client
    async with p.store.transaction() as session:
        await apply_lists(session, load_list_files([EXAMPLE_LISTS]), p.settings)
        session.add(
            MailingList(
                slug="uzbekistan-weekly", name="Uzbekistan <weekly>", description="Each Friday.",
                schedule="fri 18:00", channels=["email"],
            )
        )  # fmt: skip
    response = await c.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    escaped = "Kazakhstan &lt;Prayer&gt; &amp; Friends"
    assert f"<title>{escaped}</title>" in html
    assert f"<h1>{escaped}</h1>" in html
    links = parse(html)
    assert links.links["Kazakhstan prayer chain"] == (
        "https://news.example.org/prayer/lists/kazakhstan-prayer-chain"
    )
    assert links.links["Uzbekistan <weekly>"] == (
        "https://news.example.org/prayer/lists/uzbekistan-weekly"
    )
    assert "Every Monday morning" in html  # a list's description
    assert links.links["Choose countries and people to follow"] == (
        "https://news.example.org/prayer/subscribe"
    )
    # Lists by name; no member of any of them is named.
    assert html.index("Kazakhstan prayer chain") < html.index("Uzbekistan &lt;weekly&gt;")
    assert "anna.petrova@example.org" not in html
    assert "Anna Petrova" not in html
    # The same page frame as the others, nothing fetched from elsewhere, not indexed.
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert links.sources == []
    # Each sign-up link opens the list's sign-up page.
    joined = await c.get("/lists/kazakhstan-prayer-chain")
    assert joined.status_code == 200
    assert "Join “Kazakhstan prayer chain”" in joined.text
    assert f"<title>Subscribe · {escaped}</title>" in joined.text


async def test_without_lists_the_home_page_still_offers_to_follow(
    client: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    _, c = client
    response = await c.get("/")
    assert response.status_code == 200
    assert "Prayer chains" not in response.text
    assert re.search(r'href="https://news\.example\.org/prayer/subscribe"', response.text)
