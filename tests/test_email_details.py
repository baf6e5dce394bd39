"""Email details a receiving system judges: Message-IDs no two stores share, DKIM that a header
added in transit breaks, the smaller transfer encoding per part, a digest that Gmail does not
clip, our own name in EHLO, and the network's name in List-Id and the confirmation."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import dkim
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from notifier.channels.email_message import EmailBuilder, qp
from notifier.config import Settings
from notifier.digests import plan_digests
from notifier.domain import Cadence, Channel, Severity
from notifier.domain.messages import EmailContent, SharedBody
from notifier.domain.views import paragraphs
from notifier.render.messages import DIGEST_HTML_BUDGET, RenderedBody, Renderer
from notifier.render.templates import period_label
from notifier.service import pipeline
from notifier.store.cases import add_update, get_case
from notifier.store.models import OutboxMessage
from notifier.store.signups import request_signup
from notifier.watch import watch_once
from notifier.web.app import create_app
from tests.helpers import (
    KZ,
    WEEKLY_KZ,
    DkimKey,
    maildir,
    new_store,
    new_update,
    seed,
    smtp_settings,
    subscribe,
    text_of,
)
from tests.render_samples import (
    LIST_READER,
    digest_sections,
    list_description,
    render_digest,
    renderer,
)
from tests.smtp_server import SmtpServer

NETWORK = "Kazakhstan prayer network"
CYRILLIC = (
    "Пастор Бахытжан Кашкумбаев остаётся под стражей; суд отклонил апелляцию. Друзья и "
    "родные просят молиться о нём и писать ему письма поддержки. "
)


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


# --- Message-ID -----------------------------------------------------------------------------


async def _first_message_id(settings: Settings, created: datetime | None) -> str:
    """Deliver one alert from a new store into its Maildir; its Message-ID. With `created`,
    the outbox row is made to have been created at that moment."""
    await new_store(settings)
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        if created is not None:
            async with p.store.transaction() as session:
                await session.execute(update(OutboxMessage).values(created_at=created))
        assert (await p.deliverer.drain()).sent == 1
    [message] = maildir(settings)
    return str(message["Message-ID"])


async def test_two_stores_on_one_domain_never_share_a_message_id(
    settings: Settings, tmp_path: Path
) -> None:
    """Two installations on one domain, their first message created in the same second (today
    both were <notifier.1.SECOND@domain>): the ids differ, and hold no clock second."""
    moment = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
    other = Settings(data_dir=tmp_path / "other", mail_from=settings.mail_from)
    first = await _first_message_id(settings, moment)
    second = await _first_message_id(other, moment)
    assert first != second
    for message_id in (first, second):
        assert re.fullmatch(r"<1\.[a-z2-7]{24}@localhost>", message_id)
        assert str(int(moment.timestamp())) not in message_id


async def test_a_store_recreated_with_the_same_key_gives_new_ids(tmp_path: Path) -> None:
    """The secret key set in the configuration survives the store: its rows' creation times
    still tell the ids apart."""
    key = SecretStr("the same key in notifier.toml")
    old = Settings(data_dir=tmp_path / "old", secret_key=key)
    new = Settings(data_dir=tmp_path / "new", secret_key=key)
    assert await _first_message_id(old, None) != await _first_message_id(new, None)


# --- DKIM -----------------------------------------------------------------------------------


def _add_header(data: bytes, line: bytes) -> bytes:
    """Put a header field in right below the DKIM-Signature, where a relay on the way (or a
    forger replaying the message) would add one, above the signed one of the same name."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    end = 1
    while end < len(lines) and lines[end].startswith((b" ", b"\t")):
        end += 1  # the signature's folded lines
    return b"\r\n".join([*lines[:end], line, *lines[end:]]) + b"\r\n\r\n" + body


async def test_dkim_oversigns_so_a_header_added_in_transit_breaks_it(
    settings: Settings, smtp_server: SmtpServer, dkim_key: DkimKey
) -> None:
    configured = dkim_key.signing(smtp_settings(settings, smtp_server))
    async with pipeline(configured) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ, name="Анна")
        await new_update(p)
        await watch_once(p.store)
        assert (await p.deliverer.drain()).sent == 1
    [received] = smtp_server.received

    assert received.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(received.data, dnsfunc=dkim_key.dns)  # untouched, it verifies
    added = [
        b"Subject: Urgent: confirm your bank details",
        b"From: Bank <security@bank.example>",
        b"To: someone-else@example.org",
        b"Reply-To: thief@example.net",
        b"List-Unsubscribe: <https://evil.example/u>",
        b"Message-ID: <forged@example.org>",
    ]
    for line in added:
        assert not dkim.verify(_add_header(received.data, line), dnsfunc=dkim_key.dns), line


# --- transfer encoding ----------------------------------------------------------------------


def _content(text: str, html: str) -> EmailContent:
    return EmailContent(
        to_address="anna@example.org",
        to_name="Анна",
        subject="Digest",
        body=SharedBody(text[:40], text, "", html, ""),
        text_footer="-- \nUnsubscribe: https://example.org/u/1\n",
        html_footer='<p><a href="https://example.org/u/1">Unsubscribe</a></p>\n',
        message_id="<1.x@example.org>",
        list_id="List <list.example.org>",
        unsubscribe_url="https://example.org/u/1",
    )


def test_mostly_cyrillic_parts_go_base64_and_mostly_ascii_ones_quoted_printable() -> None:
    cyrillic = (CYRILLIC + "\n") * 200
    html = "<html><body>\n" + f"<p>{CYRILLIC}</p>\n" * 200 + "</body></html>\n"
    english = "The appeal court upheld the sentence; one word in Russian: суд.\n" * 200
    builder = EmailBuilder(mail_from="News <news@example.org>")
    parts = text_parts(builder.build(_content(cyrillic, html), now=datetime.now(UTC)))
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["base64", "base64"]
    # Decodes to what went in, and is far smaller than quoted-printable would be.
    assert parts[0].get_content().replace("\r\n", "\n").startswith(cyrillic)
    quoted = sum(len(qp(p.get_content())) for p in parts)
    encoded = sum(len(p.get_payload()) for p in parts)
    assert encoded < 0.7 * quoted
    raw = builder.build(_content(english, f"<p>{english}</p>"), now=datetime.now(UTC))
    encodings = [p["Content-Transfer-Encoding"] for p in text_parts(raw)]
    assert encodings == ["quoted-printable"] * 2


def text_parts(raw: bytes) -> list[EmailMessage]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return [p for p in message.walk() if p.get_content_maintype() == "text"]


# --- digest size budget ---------------------------------------------------------------------


def test_a_digest_over_budget_shows_the_last_updates_as_headlines() -> None:
    """With the budget a little under the sample digest's size, its last update in reading
    order (Makhset Djabbarbergenov's, #2) becomes a headline linking into the web copy, and a
    link to the whole digest leads."""
    whole = render_digest(Channel.EMAIL)
    r = renderer()
    r.digest_html_budget = len(_sample_digest(r).html.encode()) - 1
    body = _sample_digest(r)
    assert body.web_html is not None
    assert len(body.html.encode()) <= r.digest_html_budget
    reader = dataclasses.replace(LIST_READER, web_url="https://notifier.example.org/digests/7.x")
    final = r.personalise(body, reader)
    assert final.html != whole.html
    # The web copy keeps it all; the email leads with the link to it.
    cut = "Due to the work of the United Nations High Commissioner for Refugees"
    assert cut in body.web_html
    assert cut not in final.html
    assert "Pastor Bakhystzhan was released from prison" in final.html  # the others in full
    url = reader.web_url
    lead = final.html.index("Read the whole digest in your browser")
    assert lead < final.html.index("<h1")
    assert "the last 1 of its 4 updates appear here as headlines only" in final.html
    assert f'href="{url}#update-2"' in final.html
    assert "Released and flown to Germany" in final.html
    assert final.text.startswith("This digest is too long for one email")
    assert f"{url}#update-2" in final.text
    assert cut not in final.text
    assert 'id="update-2"' in body.web_html  # where the headline's link lands


def _sample_digest(r: Renderer) -> RenderedBody:
    """The sample digest of test_render.py, as that renderer renders it."""
    return r.digest(
        title="Kazakhstan prayer chain",
        intro=paragraphs(list_description()),
        sections=digest_sections(),
        period_label=period_label(date(2014, 2, 24), date(2014, 3, 3)),
        channel=Channel.EMAIL,
        locale="en",
    )


async def test_a_thirty_update_cyrillic_digest_stays_under_the_clip_size(
    settings: Settings,
) -> None:
    """The issue's digest: 30 long updates in Russian. The email stays under Gmail's clip
    size, base64, led by a link to the web copy, which holds all 30 in full."""
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        await subscribe(p, "weekly@example.org", WEEKLY_KZ, name="Wendy")
        async with p.store.transaction() as session:
            case = await get_case(session, "kashkumbaev")
            for n in range(30):
                await add_update(
                    session, case, day=date(2024, 5, 1) + timedelta(days=n),
                    title=f"Новости {n + 1}: заседание суда", body=(CYRILLIC * 25).strip(),
                    source_name="Форум 18", source_url="https://www.forum18.org/",
                    severity=Severity.NORMAL,
                )  # fmt: skip
        now = datetime.now(UTC) + timedelta(days=8)
        await plan_digests(p.store, p.renderer, now=now)
        assert (await p.deliverer.drain(now=now)).sent == 1
        [digest] = maildir(settings)
        # A reader's own digest is a list of its own to mail clients, not the alerts'.
        assert str(digest["List-Id"]) == (
            f"{settings.network_name} digests <digests.{settings.mail_domain}>"
        )
        html = html_of(digest)
        text = text_of(digest)
        assert len(html.encode()) < 102_400  # Gmail's clip size, footer included
        assert len(html.encode()) <= DIGEST_HTML_BUDGET + 2_000
        found = re.search(r'<a href="([^"#]+)"[^>]*>Read the whole digest in your browser', html)
        assert found is not None
        url = found.group(1)
        assert url.startswith(f"{settings.public_url}/digests/")
        assert html.index("Read the whole digest") < html.index("Новости 1:")
        assert text.startswith("This digest is too long for one email")
        headlines = re.findall(rf'href="{re.escape(url)}#update-(\d+)"', html)
        assert 0 < len(headlines) < 30
        for part in digest.walk():
            if part.get_content_maintype() == "text":
                assert part["Content-Transfer-Encoding"] == "base64"
        app = create_app(settings, p.store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            copy = await client.get(url)
        assert copy.status_code == 200
        assert copy.text.count(CYRILLIC.strip()) == 30 * 25  # every update in full
        for update_id in headlines:
            assert f'id="update-{update_id}"' in copy.text
        assert "Read the whole digest" not in copy.text


# --- EHLO -----------------------------------------------------------------------------------


async def test_ehlo_names_the_mail_domain_or_the_setting(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    for configured, expected in [
        (smtp_settings(settings, smtp_server), "example.org"),
        (
            smtp_settings(settings, smtp_server, mail_from="Новости <news@пример.рф>"),
            "xn--e1afmkfd.xn--p1ai",
        ),
        (
            smtp_settings(settings, smtp_server, smtp_helo_name="relay.example.net"),
            "relay.example.net",
        ),
    ]:
        smtp_server.received.clear()
        async with pipeline(configured) as p:
            if expected == "example.org":
                await seed(p, with_list=False)
                await subscribe(p, "anna@example.org", KZ)
            await new_update(p, title=f"News for {expected}")
            await watch_once(p.store)
            assert (await p.deliverer.drain()).sent == 1
        [received] = smtp_server.received
        assert received.helo == expected


def test_the_helo_and_network_name_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        Settings(smtp_helo_name="two words")
    with pytest.raises(ValueError, match="give the network a name"):
        Settings(network_name=" \n ")
    assert Settings(network_name="Prayer\r\nnetwork").network_name == "Prayer network"
    idn = Settings(smtp_helo_name="почта.пример.рф")
    assert idn.helo_name == "xn--80a1acny.xn--e1afmkfd.xn--p1ai"
    assert Settings().helo_name == "localhost"


# --- the network's name ---------------------------------------------------------------------


async def test_alerts_and_confirmations_carry_the_networks_name(settings: Settings) -> None:
    named = settings.model_copy(
        update={"network_name": NETWORK, "mail_from": f"{NETWORK} <news@example.org>"}
    )
    async with pipeline(named) as p:
        await seed(p, with_list=False)
        await subscribe(p, "anna@example.org", KZ)
        await new_update(p)
        await watch_once(p.store)
        async with p.store.transaction() as session:
            asked = await request_signup(
                session, named, email="ben@example.org", name="Ben", follows=[],
                cadence=Cadence.WEEKLY, mailing_list=None, now=datetime.now(UTC),
            )  # fmt: skip
            assert asked
        assert (await p.deliverer.drain()).sent == 2
    by_to = {m["To"].addresses[0].addr_spec: m for m in maildir(named)}
    alert, confirmation = by_to["anna@example.org"], by_to["ben@example.org"]
    assert str(alert["List-Id"]) == f"{NETWORK} alerts <alerts.example.org>"
    assert str(confirmation["List-Id"]) == f"{NETWORK} confirmations <confirm.example.org>"
    assert f"asked {NETWORK} to send news" in " ".join(text_of(confirmation).split())
    assert f"asked {NETWORK} to send news" in " ".join(html_of(confirmation).split())
