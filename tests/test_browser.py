"""A person's whole round in headless Chromium (Debian's, driven by Playwright): subscribe to
Kazakhstan, confirm from the email the SMTP server received, get the next alert, switch to a
weekly digest in the preferences, follow someone more, pause and resume, read the weekly
digest's web copy, and leave in one click the way a mail provider does it. A screenshot of
each page is kept in test-artifacts/browser/."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from notifier.config import Settings
from notifier.digests import plan_digests
from notifier.domain import Severity, SubscriberStatus
from notifier.service import pipeline
from notifier.store.cases import add_update, get_case
from notifier.store.models import Subscriber, Subscription
from tests.helpers import deliver, new_store, seed
from tests.live_server import free_port, live_app
from tests.smtp_server import SmtpServer

T = TypeVar("T")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run store work on a loop of its own: Playwright's sync API holds this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def last_body(server: SmtpServer, to: str) -> str:
    message = next(r for r in reversed(server.received) if r.rcpt_tos == [to]).message
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def weekly_digest(settings: Settings) -> None:
    """What the digest planner does when the reader's weekly digest falls due."""

    async def go() -> None:
        async with pipeline(settings) as p:
            later = datetime.now(UTC) + timedelta(days=8)
            await plan_digests(p.store, p.renderer, now=later)
            await p.deliverer.drain(now=later)

    run(go())


def subscriber_state(settings: Settings) -> tuple[SubscriberStatus, list[str]]:
    async def go() -> tuple[SubscriberStatus, list[str]]:
        async with pipeline(settings) as p, p.store.read() as session:
            person = await session.scalar(
                select(Subscriber).where(Subscriber.email == "reader@example.org")
            )
            assert person is not None
            cadences = list(
                await session.scalars(
                    select(Subscription.cadence).where(Subscription.subscriber_id == person.id)
                )
            )
            return person.status, [c.value for c in cadences]

    return run(go())


def test_subscribe_confirm_alert_preferences_unsubscribe(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}",
        smtp_url=SecretStr(f"smtp://{smtp_server.host}:{smtp_server.port}"),
        public_url=f"http://127.0.0.1:{port}",
        web_port=port,
        mail_from="Prayer network <news@example.org>",
        network_name="Prayer network",
    )

    async def store_with_cases() -> None:
        await new_store(settings)
        async with pipeline(settings) as p:
            await seed(p, with_list=False)

    run(store_with_cases())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with live_app(settings) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone

        page.goto(f"{base}/")  # the home page leads to the sign-up form
        assert page.inner_text("h1") == "Prayer network"
        assert page.title() == "Prayer network"
        page.screenshot(path=ARTIFACTS / "0-home.png", full_page=True)
        page.click("text=Choose countries and people to follow")
        assert page.url == f"{base}/subscribe"
        page.fill("#email", "reader@example.org")
        page.fill("#name", "Reader")
        page.fill("#follow", "Kazakhstan")
        page.select_option("#cadence", "instant")
        page.screenshot(path=ARTIFACTS / "1-subscribe.png", full_page=True)
        page.click("button[type=submit]")
        assert page.inner_text("h1") == "Check your inbox"
        page.screenshot(path=ARTIFACTS / "2-check-inbox.png", full_page=True)
        assert subscriber_state(settings)[0] is SubscriberStatus.PENDING

        run(deliver(settings))  # the confirmation email goes out
        link = re.search(r"http\S+/confirm/\S+", last_body(smtp_server, "reader@example.org"))
        assert link is not None
        page.goto(link.group(0))
        page.screenshot(path=ARTIFACTS / "3-confirm.png", full_page=True)
        page.click("button[type=submit]")
        assert page.inner_text("h1") == "Thank you"
        page.screenshot(path=ARTIFACTS / "4-confirmed.png", full_page=True)
        assert subscriber_state(settings)[0] is SubscriberStatus.ACTIVE

        async def news(title: str = "Appeal court upholds sentence") -> None:
            async with pipeline(settings) as p, p.store.transaction() as session:
                case = await get_case(session, "kashkumbaev")
                await add_update(
                    session, case, day=date(2024, 5, 1), title=title,
                    body="The court upheld it.", source_name="Forum 18", source_url=None,
                    severity=Severity.NORMAL,
                )  # fmt: skip

        run(news())
        run(deliver(settings))  # the next alert
        alert = last_body(smtp_server, "reader@example.org")
        assert "Appeal court upholds sentence" in alert
        preferences = re.search(r"http\S+/preferences/\S+", alert)
        assert preferences is not None
        page.goto(preferences.group(0))
        page.select_option("#cadence", "weekly")
        page.click("form:has(#cadence) button")
        assert "weekly digest" in page.inner_text("main")
        assert page.eval_on_selector("#cadence", "s => s.value") == "weekly"
        page.screenshot(path=ARTIFACTS / "5-preferences-weekly.png", full_page=True)
        assert subscriber_state(settings)[1] == ["weekly"]
        # Any spelling; the datalist suggests names. A misspelt country comes back beside the
        # field, styled as an error, with a "did you mean"; the person is followed all the same.
        page.fill("#follow", "Kashkumbaev, Kazakstn")
        page.click("form:has(#follow) button")
        assert "Bakhytzhan Kashkumbayev — weekly by email" in page.inner_text("main")
        assert "Did you mean Kazakhstan" in page.inner_text("#follow-error")
        assert page.input_value("#follow") == "Kazakstn"
        colour = page.eval_on_selector("#follow-error", "e => getComputedStyle(e).color")
        assert colour == "rgb(138, 18, 18)"
        danger = page.eval_on_selector(
            "form:has(input[value=leave_all]) button", "e => getComputedStyle(e).backgroundColor"
        )
        assert danger == "rgb(179, 38, 30)"
        page.screenshot(path=ARTIFACTS / "5b-preferences-near-miss.png", full_page=True)
        page.select_option("#pause", "7")
        page.click("form:has(#pause) button")
        assert "Paused until" in page.inner_text("main")
        page.screenshot(path=ARTIFACTS / "6-preferences-paused.png", full_page=True)
        page.click("text=Resume now")
        assert "Welcome back" in page.inner_text("main")
        assert subscriber_state(settings)[1] == ["weekly", "weekly"]

        # News after the switch to weekly comes in the digest (the alert before it does not
        # come again); its email links to a web copy of itself.
        run(news("Transferred to a prison in Astana"))
        weekly_digest(settings)
        digest = last_body(smtp_server, "reader@example.org")
        web_copy = re.search(r"Read this digest in your browser: (\S+)", digest)
        assert web_copy is not None
        page.goto(web_copy.group(1))
        assert "Your weekly digest" in page.inner_text("body")
        assert "Transferred to a prison in Astana" in page.inner_text("body")
        assert "Appeal court upholds sentence" not in page.inner_text("body")
        page.screenshot(path=ARTIFACTS / "7-digest-web-copy.png", full_page=True)

        received = next(
            r for r in reversed(smtp_server.received) if r.rcpt_tos == ["reader@example.org"]
        ).message
        unsubscribe = str(received["List-Unsubscribe"]).strip().strip("<>")
        page.goto(unsubscribe)  # what a person (or a link scanner) sees: a button, no change
        page.screenshot(path=ARTIFACTS / "8-unsubscribe-page.png", full_page=True)
        assert subscriber_state(settings)[0] is SubscriberStatus.ACTIVE
        # What a mail provider does with List-Unsubscribe-Post: one POST, nothing else.
        response = httpx.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert response.status_code == 200
        page.goto(unsubscribe)
        assert page.inner_text("h1") == "You are already unsubscribed"
        page.screenshot(path=ARTIFACTS / "9-after-unsubscribe.png", full_page=True)
        browser.close()
    assert subscriber_state(settings)[0] is SubscriberStatus.UNSUBSCRIBED
    sent_before = len(smtp_server.received)
    run(news())
    run(deliver(settings))
    assert len(smtp_server.received) == sent_before  # nothing more
