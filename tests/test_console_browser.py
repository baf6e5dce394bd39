"""The console in headless Chromium (Debian's, driven by Playwright): every page of the role
table (tests/console_routes.py) opened by an owner, at desk and phone width, checked by
axe-core for serious and critical accessibility violations, and kept as a screenshot in
test-artifacts/console/; then the journeys people make."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from notifier.config import Settings
from notifier.domain.subscriber_specs import SubscriberSpec
from notifier.service import pipeline
from notifier.store.models import Subscriber
from notifier.store.subscribers import import_subscribers
from notifier.watch import watch_once
from tests.console_routes import ROUTES
from tests.helpers import (
    CONSOLE_PASSWORD,
    KZ,
    add_console_users,
    add_other_list,
    deliver,
    maildir,
    new_store,
    new_update,
    seed,
    text_of,
)
from tests.live_server import free_port, live_app

T = TypeVar("T")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "console"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
#: Widths the console must work at: a desk, and a small phone.
WIDTHS = {"desk": 1280, "phone": 375}
SERIOUS = {"serious", "critical"}


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run store work on a loop of its own: Playwright's sync API holds this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Console:
    settings: Settings
    base: str
    browser: Browser

    def signed_in(self, email: str, width: int = WIDTHS["desk"]) -> Page:
        """A new browser context (its own cookies) signed in as `email`."""
        context = self.browser.new_context(
            viewport={"width": width, "height": 900}, bypass_csp=True
        )
        page = context.new_page()
        page.goto(f"{self.base}/admin/login")
        page.fill("#f-email", email)
        page.fill("#f-password", CONSOLE_PASSWORD)
        page.click("button[type=submit]")
        assert "/admin/login" not in page.url, page.inner_text("main")
        return page


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    port = free_port()
    settings = Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite+aiosqlite:///{tmp / 'n.db'}",
        public_url=f"http://127.0.0.1:{port}",
        web_port=port,
        mail_from="Prayer network <news@example.org>",
        network_name="Prayer network",
    )

    async def prepare() -> None:
        await new_store(settings)
        async with pipeline(settings) as p:
            await seed(p)
            await add_console_users(p)
            await add_other_list(p)

    run(prepare())
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
        yield Console(settings, base, browser)
        browser.close()


def _keep_screenshot(page: Page, path: Path) -> None:
    """The whole page; where Chromium cannot capture one that tall (a phone-width case page
    runs past its texture limit), what the screen shows."""
    try:
        page.screenshot(path=path, full_page=True)
    except PlaywrightError:
        page.screenshot(path=path)


def _violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_console_page_passes_axe(console: Console, width: str) -> None:
    page = console.signed_in("owner@example.org", WIDTHS[width])
    found: dict[str, list[str]] = {}
    pages = [r for r in ROUTES if r.method == "GET" and r.name]
    for route in pages:
        answer = page.goto(f"{console.base}{route.path}")
        assert answer is not None
        assert answer.status == 200, f"{route.path}: {answer.status}"
        _keep_screenshot(page, ARTIFACTS / f"{route.name}-{width}.png")
        # axe's rules read the page, not its width: once, at desk width, is enough.
        if width == "desk" and (problems := _violations(page)):
            found[route.path] = problems
    # The sign-in page too, signed out.
    fresh = console.browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    login = fresh.new_page()
    login.goto(f"{console.base}/admin/login")
    login.screenshot(path=ARTIFACTS / f"login-{width}.png", full_page=True)
    if problems := _violations(login):
        found["/admin/login"] = problems
    assert found == {}
    # Nothing wider than the screen: a phone scrolls down, not sideways.
    if width == "phone":
        for route in pages:
            page.goto(f"{console.base}{route.path}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{route.path} is {overflow}px wider than a phone"


def _link_shown(page: Page) -> str:
    """The one-time set-password link the Users page shows after adding someone."""
    return page.inner_text(".once code").strip()


def _set_password_and_sign_in(console: Console, link: str, email: str) -> Page:
    context = console.browser.new_context(viewport={"width": WIDTHS["desk"], "height": 900})
    page = context.new_page()
    page.goto(link)
    page.fill("#f-password", CONSOLE_PASSWORD)
    page.fill("#f-again", CONSOLE_PASSWORD)
    page.click("button[type=submit]")
    assert "Your password is set" in page.inner_text("main")
    page.fill("#f-email", email)
    page.fill("#f-password", CONSOLE_PASSWORD)
    page.click("button[type=submit]")
    assert "/admin/login" not in page.url
    return page


def test_owner_editor_journey_to_the_maildir(console: Console) -> None:
    """An owner adds an editor, who sets a password from the link, writes an urgent update,
    previews it and who will get it, publishes it, and it arrives in the Maildir; the audit
    log shows each step; signing out ends the session."""
    owner = console.signed_in("owner@example.org")
    owner.goto(f"{console.base}/admin/users")
    owner.fill("#f-email", "ed@example.org")
    owner.select_option("#f-role", "editor")
    owner.click("text=Add and make a set-password link")
    link = _link_shown(owner)
    owner.screenshot(path=ARTIFACTS / "journey-1-user-added.png", full_page=True)

    editor = _set_password_and_sign_in(console, link, "ed@example.org")
    editor.goto(f"{console.base}/admin/cases/bakhytzhan-kashkumbayev")
    editor.fill("#f-date", "2026-12-01")
    editor.fill("#f-title", "Moved to a prison hospital")
    editor.fill("#f-body", "He was moved on Monday. Pray for his health.")
    editor.check("#f-urgent")
    # The live preview follows the typing: no Preview button pressed.
    publish = editor.locator("button[value=publish]")
    expect(publish).to_have_text("Publish as urgent")
    expect(publish).to_be_visible()
    expect(editor.locator("#live-status")).to_have_text(
        "The preview shows the update as it stands."
    )
    preview = editor.locator("#live-preview")
    expect(preview).to_contain_text("Who will get it")
    expect(preview).to_contain_text("Moved to a prison hospital")
    frame = editor.frame_locator("#live-preview iframe").first
    expect(frame.locator("body")).to_contain_text("Moved to a prison hospital")
    # A field made wrong hides Publish and names it; put right, the preview comes back.
    editor.fill("#f-date", "2026-13-01")
    expect(publish).to_be_hidden()
    expect(preview).to_contain_text("The preview waits for 1 field: date")
    editor.fill("#f-date", "2026-12-01")
    expect(publish).to_be_visible()
    expect(frame.locator("body")).to_contain_text("Moved to a prison hospital")
    editor.screenshot(path=ARTIFACTS / "journey-2-preview.png", full_page=True)
    publish.click()
    assert "Moved to a prison hospital" in editor.inner_text("main")
    run(deliver(console.settings))
    subjects = [str(m["Subject"]) for m in maildir(console.settings)]
    assert any("Moved to a prison hospital" in s for s in subjects), subjects

    owner.goto(f"{console.base}/admin/audit")
    log = owner.inner_text("main")
    assert "user:owner@example.org" in log
    assert "user.add" in log
    assert "user:ed@example.org" in log
    assert "user.set-password" in log
    assert "update.add" in log
    owner.screenshot(path=ARTIFACTS / "journey-3-audit.png", full_page=True)

    editor.click("header >> text=Sign out")
    assert "You are signed out" in editor.inner_text("main")
    editor.goto(f"{console.base}/admin/cases")
    assert "/admin/login" in editor.url


def _outsider_id(settings: Settings) -> int:
    """A subscriber who follows Kazakhstan on their own, on no list; and news for the chain's
    next digest (an editor's update, matched as `notifier run` matches it)."""

    async def go() -> int:
        async with pipeline(settings) as p:
            await new_update(p, title="Hearing moved to January")
            await watch_once(p.store)
            async with p.store.transaction() as session:
                specs = [SubscriberSpec(where="t", email="outsider@example.org", follows=[KZ])]
                await import_subscribers(session, specs, settings)
            async with p.store.read() as session:
                found = await session.scalar(
                    select(Subscriber.id).where(Subscriber.email == "outsider@example.org")
                )
                assert found is not None
                return found

    return run(go())


def test_coordinator_journey_their_list_only(console: Console) -> None:
    """An owner adds a coordinator of the prayer chain, who sees only that list, previews its
    digest and sends it now (it arrives in the Maildir), and is refused another list and a
    subscriber who is not on theirs; the audit log shows it; signing out ends the session."""
    outsider = _outsider_id(console.settings)
    owner = console.signed_in("owner@example.org")
    owner.goto(f"{console.base}/admin/users")
    owner.fill("#f-email", "chain@example.org")
    owner.select_option("#f-role", "coordinator")
    owner.check("input[name=lists][value=kazakhstan-prayer-chain]")
    owner.click("text=Add and make a set-password link")
    coordinator = _set_password_and_sign_in(console, _link_shown(owner), "chain@example.org")

    coordinator.goto(f"{console.base}/admin/lists")
    lists = coordinator.inner_text("main")
    assert "Kazakhstan prayer chain" in lists
    assert "Central Asia weekly" not in lists
    nav = coordinator.inner_text("nav.sections")
    assert "Users" not in nav
    assert "Outbox" not in nav
    coordinator.screenshot(path=ARTIFACTS / "journey-4-coordinator-lists.png", full_page=True)

    chain = f"{console.base}/admin/lists/kazakhstan-prayer-chain"
    coordinator.goto(f"{chain}/digest")
    assert "Kazakhstan" in coordinator.inner_text("main")
    coordinator.screenshot(path=ARTIFACTS / "journey-5-digest-preview.png", full_page=True)
    before = {str(m["Message-ID"]) for m in maildir(console.settings)}
    coordinator.goto(f"{chain}/send")
    coordinator.click("text=Yes, send it now")
    assert "The digest is on its way" in coordinator.inner_text("main")
    run(deliver(console.settings))
    digests = [m for m in maildir(console.settings) if str(m["Message-ID"]) not in before]
    received = {str(m["To"]).split("<")[-1].rstrip(">") for m in digests}
    assert received == {
        "anna.petrova@example.org",
        "david.okafor@example.org",
        "maria.schmidt@example.org",
        "prayer-team@example.org",
    }
    assert all("Hearing moved to January" in text_of(m) for m in digests)

    for refused in (
        f"{console.base}/admin/lists/central-asia-weekly",
        f"{console.base}/admin/subscribers/{outsider}",
        f"{console.base}/admin/users",
    ):
        answer = coordinator.goto(refused)
        assert answer is not None
        assert answer.status == 403, refused
    coordinator.screenshot(path=ARTIFACTS / "journey-6-coordinator-refused.png", full_page=True)

    owner.goto(f"{console.base}/admin/audit?actor=user:chain@example.org")
    log = owner.inner_text("main")
    assert "user.set-password" in log
    assert "send" in log
    coordinator.click("header >> text=Sign out")
    coordinator.goto(chain)
    assert "/admin/login" in coordinator.url
