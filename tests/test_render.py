"""Rendering: golden files for what readers get (email text, email HTML, Telegram HTML and the
whole RFC 5322 message) from the two sample cases, plus escaping, Telegram limits, header
injection, RFC 2047 encoding and template checks.

Golden files live in tests/golden/. After a deliberate change to a template or renderer, run
`NOTIFIER_REGENERATE_GOLDEN=1 pytest tests/test_render.py` and read the diff before committing.
"""

from __future__ import annotations

import dataclasses
import difflib
import email
import email.policy
import os
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest

from notifier.channels.email_message import EmailBuilder
from notifier.domain import CaseStatus, Channel, Severity
from notifier.domain.messages import EmailContent, SharedBody
from notifier.domain.views import CaseView, CountrySection, UpdateView, group_updates
from notifier.render.marks import PERSONAL_MARK
from notifier.render.messages import FinalMessage, Personal
from notifier.render.telegram_html import (
    TELEGRAM_LIMIT,
    check_telegram_html,
    split_telegram_html,
)
from notifier.render.templates import (
    TemplateProblem,
    check_templates,
    make_environment,
)
from notifier.store.models import Case, Update
from notifier.store.views import case_view, update_view
from tests.helpers import html_text
from tests.render_samples import (
    ALERT_READER,
    DJABBARBERGENOV,
    LIST_READER,
    alert_sample,
    render_alert,
    render_digest,
    renderer,
    sample_view,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("NOTIFIER_REGENERATE_GOLDEN", "") not in ("", "0")

MAIL_FROM = "Notifier <notifier@example.org>"
NOW = datetime(2014, 4, 14, 5, 30, tzinfo=UTC)
FIXED_BOUNDARY = "===============BOUNDARY=="


# --- golden files ---------------------------------------------------------------------------------


def assert_golden(name: str, actual: str) -> None:
    """Compare with tests/golden/NAME, byte for byte; rewrite it when regenerating."""
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(
            f"{path} is missing; create it with NOTIFIER_REGENERATE_GOLDEN=1", pytrace=False
        )
    expected = path.read_bytes().decode("utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"tests/golden/{name}",
                tofile=f"{name} (rendered now)",
            )
        )
        pytest.fail(
            f"{name} differs from its golden file (NOTIFIER_REGENERATE_GOLDEN=1 rewrites it):\n"
            f"{diff}",
            pytrace=False,
        )


def email_content(final: FinalMessage, personal: Personal, list_id: str) -> EmailContent:
    """As the deliverer builds it."""
    return EmailContent(
        to_address=personal.email,
        to_name=personal.name,
        subject=final.subject,
        body=SharedBody("test", final.text, "", final.html, ""),
        text_footer="",
        html_footer="",
        message_id="<notifier.42.1397453400@example.org>",
        list_id=list_id,
        unsubscribe_url=personal.unsubscribe_url,
    )


def scrub_boundary(raw: str) -> str:
    found = re.search(r'boundary="([^"]+)"', raw)
    assert found, "a multipart message names its boundary"
    return raw.replace(found.group(1), FIXED_BOUNDARY)


def assert_tidy(text: str) -> None:
    """No doubled blank lines, no blank line at either end, no trailing spaces (but the
    signature separator "-- ")."""
    assert "\n\n\n" not in text
    assert text == text.lstrip("\n")
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    for line in text.splitlines():
        assert line == line.rstrip() or line == "-- ", repr(line)


def telegram_chunks_file(chunks: Iterable[str]) -> str:
    chunks = list(chunks)
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        marker = f"======== chunk {number} of {len(chunks)} ({len(chunk)} characters) ========"
        parts.append(f"{marker}\n{chunk}\n")
    return "\n".join(parts)


# --- golden: alert --------------------------------------------------------------------------------


def test_alert_email_text_golden() -> None:
    final = render_alert(Channel.EMAIL)
    assert final.subject == "Pastor Bakhytzhan Kashkumbayev: Suspended sentence; prosecutors appeal"
    assert_tidy(final.text)
    assert_golden("alert.txt", final.text)


def test_alert_email_html_golden() -> None:
    assert_golden("alert.html", render_alert(Channel.EMAIL).html)


def test_alert_telegram_golden() -> None:
    final = render_alert(Channel.TELEGRAM)
    assert final.subject == ""
    assert check_telegram_html(final.text.strip()) == []
    assert split_telegram_html(final.text) == [final.text], "an alert fits one message"
    assert_tidy(final.text)
    assert_golden("alert.telegram.html", final.text)


def test_alert_eml_golden() -> None:
    final = render_alert(Channel.EMAIL)
    content = email_content(final, ALERT_READER, "notifier alerts <alerts.example.org>")
    raw = EmailBuilder(mail_from=MAIL_FROM).build(content, now=NOW)
    assert b"\r\n" in raw
    assert re.search(rb"(?<!\r)\n", raw) is None, "every line ends in CRLF"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    text = scrub_boundary(raw.decode("ascii"))
    assert_golden("alert.eml", text.replace("\r\n", "\n"))


# --- golden: digest -------------------------------------------------------------------------------


def test_digest_email_text_golden() -> None:
    final = render_digest(Channel.EMAIL)
    assert final.subject == "Kazakhstan prayer chain: 4 updates, 24 February – 3 March 2014"
    assert_tidy(final.text)
    assert_golden("digest.txt", final.text)


def test_digest_email_html_golden() -> None:
    assert_golden("digest.html", render_digest(Channel.EMAIL).html)


def test_digest_telegram_golden() -> None:
    final = render_digest(Channel.TELEGRAM)
    chunks = split_telegram_html(final.text)
    assert len(chunks) > 1, "the sample digest is long enough to need splitting"
    for chunk in chunks:
        assert len(chunk) <= TELEGRAM_LIMIT
        assert check_telegram_html(chunk) == [], chunk
        assert_tidy(chunk + "\n")
    assert_golden("digest.telegram.html", telegram_chunks_file(chunks))


# --- golden: in German and Russian -------------------------------------------------------------


@pytest.mark.parametrize("locale", ["de", "ru"])
def test_alert_goldens_in_german_and_russian(locale: str) -> None:
    """The golden alert as a `de` and a `ru` reader get it: subject (first line of the text's
    golden), text, HTML and Telegram in their language, the case's own translations included."""
    final = render_alert(Channel.EMAIL, locale=locale)
    assert_tidy(final.text)
    assert_golden(f"alert.{locale}.txt", f"Subject: {final.subject}\n\n{final.text}")
    assert_golden(f"alert.{locale}.html", final.html)
    telegram = render_alert(Channel.TELEGRAM, locale=locale)
    assert check_telegram_html(telegram.text.strip()) == []
    assert split_telegram_html(telegram.text) == [telegram.text], "an alert fits one message"
    assert_golden(f"alert.{locale}.telegram.html", telegram.text)


def test_alert_golden_for_an_update_not_yet_in_german() -> None:
    """The golden alert's update without its German translation (the case keeps its own): a
    `de` reader gets the update's English title and body with a German note, the rest German."""
    case, update = alert_sample()
    untranslated = dataclasses.replace(
        update, translations=tuple(t for t in update.translations if t[0] != "de")
    )
    assert untranslated.translations != update.translations
    final = render_alert(Channel.EMAIL, locale="de", sample=(case, untranslated))
    assert "Suspended sentence; prosecutors appeal" in final.subject
    assert "(Noch nicht übersetzt.)" in final.text
    assert_golden("alert.de.untranslated.txt", f"Subject: {final.subject}\n\n{final.text}")
    telegram = render_alert(Channel.TELEGRAM, locale="de", sample=(case, untranslated))
    assert check_telegram_html(telegram.text.strip()) == []
    assert_golden("alert.de.untranslated.telegram.html", telegram.text)


@pytest.mark.parametrize("locale", ["de", "ru"])
def test_digest_goldens_in_german_and_russian(locale: str) -> None:
    final = render_digest(Channel.EMAIL, locale=locale)
    assert_tidy(final.text)
    assert_golden(f"digest.{locale}.txt", f"Subject: {final.subject}\n\n{final.text}")
    assert_golden(f"digest.{locale}.html", final.html)
    chunks = split_telegram_html(render_digest(Channel.TELEGRAM, locale=locale).text)
    for chunk in chunks:
        assert len(chunk) <= TELEGRAM_LIMIT
        assert check_telegram_html(chunk) == [], chunk
    assert_golden(f"digest.{locale}.telegram.html", telegram_chunks_file(chunks))


# --- what a reader must find ----------------------------------------------------------------------


def test_alert_holds_what_a_reader_needs() -> None:
    text = render_alert(Channel.EMAIL).text
    html, hrefs = html_text(render_alert(Channel.EMAIL).html)
    telegram, _ = html_text(render_alert(Channel.TELEGRAM, None).text)
    address = ("Bakhytzhan Kashkumbaev", "SI-12 (ETs 166/1)", "Alash Tas Zhol street 30/1")
    for output in (text, html, telegram):
        assert "13 April 2014" in output
        assert "The Court of Appeal will hear the case later this week." in output
        assert "Father in heaven, we lift up Pastor Bakhytzhan" in output
        assert "Thank You for your unending mercy and grace toward us all." in output
        for line in address:
            assert line in output
    # The letter address keeps its lines in the plain text.
    assert "\n      SI-12 (ETs 166/1)\n      Alash Tas Zhol street 30/1\n" in text
    assert ALERT_READER.unsubscribe_url in text
    assert ALERT_READER.unsubscribe_url in hrefs
    assert ALERT_READER.preferences_url in hrefs
    assert PERSONAL_MARK not in text + html + telegram


def test_digest_holds_what_a_reader_needs() -> None:
    final = render_digest(Channel.EMAIL)
    html, hrefs = html_text(final.html)
    telegram = render_digest(Channel.TELEGRAM, None).text
    for raw in (final.text, html, html_text(telegram)[0]):
        output = " ".join(raw.split())  # text wraps long titles; compare words, not lines
        assert "Every Monday morning" in output
        assert "Released from prison; sentenced to probation" in output
        assert "Re-arrested at prison gate; trial delayed" in output
        assert "Two charges dropped; pastor refuses to take part in trial" in output
        assert "Released and flown to Germany; banned from Kazakhstan until 2017" in output
        assert "Suspended sentence" not in output
        assert "Voice of the Martyrs" in output
        assert "In Jesus’s name, Amen." in output
    # Oldest first within a case; cases by name (Bakhytzhan before Makhset).
    order = [
        final.text.index(t)
        for t in ("1 February 2014", "5 February 2014", "27 February 2014", "6 December 2012")
    ]
    assert order == sorted(order)
    assert LIST_READER.unsubscribe_url in final.text
    assert LIST_READER.unsubscribe_url in hrefs


# --- escaping -------------------------------------------------------------------------------------

EVIL_NAME = 'Ivan <script>alert("name")</script> & Sons'
EVIL_TITLE = 'Court says "no" <b>today</b> & <script>alert(1)</script>'
EVIL_BODY = 'Tom & Jerry\'s <i>case</i>: 1 < 2 > 0 "quoted".\n\nSecond <script>x()</script>.'
EVIL_SOURCE = 'News <&> "Agency"'
EVIL_URL = 'https://example.org/a?b=1&c="2"'


def evil_views() -> tuple[CaseView, UpdateView]:
    case = Case(
        id=9,
        slug="evil",
        name=EVIL_NAME,
        role="pastor",
        country="KZ",
        status=CaseStatus.DETAINED,
        summary="",
        letter_address='Box <1> & Co\n"Block" 2',
        letter_guidance="Say <nothing> & be kind.",
        actions=[{"kind": "pray", "text": 'Pray <hard> & "often".'}],
        prayer='Lord <hear> & "answer".',
        sources=[],
        published=True,
    )
    update = Update(
        id=99,
        case_id=9,
        key="evil",
        event_date=date(2024, 1, 2),
        title=EVIL_TITLE,
        body=EVIL_BODY,
        source_name=EVIL_SOURCE,
        source_url=EVIL_URL,
        severity=Severity.URGENT,
    )
    return case_view(case), update_view(update)


EVIL_PERSONAL = Personal(
    name='Anna <script>"x"</script> & Co',
    email="anna@example.org",
    reason="you are on the list “<b>Friends</b> & Family”",
    unsubscribe_url="https://notifier.example.org/u/1?a=1&b=2",
    preferences_url="https://notifier.example.org/p/1?a=1&b=2",
)


def evil_outputs() -> dict[str, FinalMessage]:
    r = renderer()
    case, update = evil_views()
    sections = group_updates([(case, update)])
    out = {}
    for channel in Channel:
        personal = EVIL_PERSONAL if channel is Channel.EMAIL else None
        alert = r.alert(case, update, channel, "en")
        out[f"alert-{channel.value}"] = r.personalise(alert, personal)
        digest = r.digest(
            title='List <&> "quoted"',
            intro=("Intro <b>x</b> & y.",),
            sections=sections,
            period_label="1 – 7 January 2024",
            channel=channel,
            locale="en",
        )
        out[f"digest-{channel.value}"] = r.personalise(digest, personal)
    return out


@pytest.mark.parametrize("kind", ["alert", "digest"])
def test_case_text_is_escaped_in_html(kind: str) -> None:
    outputs = evil_outputs()
    for markup in (outputs[f"{kind}-email"].html, outputs[f"{kind}-telegram"].text):
        assert "<script" not in markup
        for tag in ("<b>today", "<i>case", "<hard>"):
            assert tag not in markup
        assert "&lt;script&gt;" in markup
        assert "Tom &amp; Jerry" in markup
        assert "&amp; Sons" in markup
        assert "&lt;hear&gt;" in markup
        text, hrefs = html_text(markup)
        assert EVIL_TITLE in text
        assert EVIL_NAME in text
        assert 'Tom & Jerry\'s <i>case</i>: 1 < 2 > 0 "quoted".' in text
        assert EVIL_SOURCE in text
        assert EVIL_URL in hrefs
    email_html = outputs[f"{kind}-email"].html
    assert "<b>Friends</b>" not in email_html
    assert "&lt;b&gt;Friends&lt;/b&gt; &amp; Family" in email_html
    assert EVIL_PERSONAL.unsubscribe_url in html_text(email_html)[1]
    assert check_telegram_html(outputs[f"{kind}-telegram"].text.strip()) == []


@pytest.mark.parametrize("kind", ["alert", "digest"])
def test_case_text_is_literal_in_plain_text(kind: str) -> None:
    final = evil_outputs()[f"{kind}-email"]
    flat = " ".join(final.text.split())  # long titles wrap; compare words, not lines
    assert EVIL_TITLE in flat
    assert EVIL_NAME in flat
    assert 'Tom & Jerry\'s <i>case</i>: 1 < 2 > 0 "quoted".' in flat
    assert "Second <script>x()</script>." in flat
    assert f"Source: {EVIL_SOURCE} <{EVIL_URL}>" in flat
    assert "Box <1> & Co" in flat
    assert '"Block" 2' in flat
    assert 'Lord <hear> & "answer".' in flat
    assert EVIL_PERSONAL.reason in flat
    assert EVIL_PERSONAL.unsubscribe_url in flat
    for entity in ("&amp;", "&lt;", "&#"):
        assert entity not in flat


def test_urgent_update_is_marked() -> None:
    r = renderer()
    case, update = sample_view(DJABBARBERGENOV, "2012-09-02-arrested")
    final = r.personalise(r.alert(case, update, Channel.EMAIL, "en"), ALERT_READER)
    assert final.subject == (
        "URGENT: Pastor Makhset Djabbarbergenov: "
        "Arrested; held in Almaty pending extradition request"
    )
    assert "2 September 2012 (URGENT): Arrested;" in final.text
    assert '<span class="urgent"' in final.html
    telegram = r.personalise(r.alert(case, update, Channel.TELEGRAM, "en"), None).text
    assert "<b>2 September 2012 · URGENT: Arrested;" in telegram


def test_subject_is_plain_text() -> None:
    final = evil_outputs()["alert-email"]
    assert final.subject == f"URGENT: Pastor {EVIL_NAME}: {EVIL_TITLE}"
    assert evil_outputs()["digest-email"].subject.startswith('List <&> "quoted": 1 update,')


# --- Telegram limits ------------------------------------------------------------------------------


def big_sections(count: int = 40) -> tuple[CountrySection, ...]:
    sentence = (
        "The court heard the case again today & the family waited outside <in the cold> "
        "while “officials” discussed the charges at great length. "
    )
    items = []
    for number in range(count):
        country = ("KZ", "UZ", "TM", "KG")[number % 7 % 4]
        case = Case(
            id=100 + number % 7,
            slug=f"case-{number % 7}",
            name=f"Person {number % 7} Example",
            role="pastor",
            country=country,
            status=CaseStatus.IMPRISONED,
            summary="",
            letter_address=f"Person {number % 7}\nPrison {number}\n010000 City",
            letter_guidance="Be kind.",
            actions=[{"kind": "pray", "text": "Pray for them."}],
            prayer="Lord, hear our prayer. " * 20,
            sources=[],
            published=True,
        )
        body = "\n\n".join(sentence * (2 + (number + p) % 4) for p in range(4))
        update = Update(
            id=1000 + number,
            case_id=case.id,
            key=f"u{number}",
            event_date=date(2024, 1, 1 + number % 28),
            title=f"Update number {number} with a longish title & <angle> brackets",
            body=body,
            source_name="Source & Co",
            source_url=f"https://example.org/news/{number}?a=1&b=2",
            severity=Severity.NORMAL,
        )
        items.append((case_view(case), update_view(update)))
    return group_updates(items)


def test_big_telegram_digest_splits_into_valid_chunks() -> None:
    r = renderer()
    sections = big_sections()
    body = r.digest(
        title="Big list",
        intro=("Intro.",),
        sections=sections,
        period_label="1 – 28 January 2024",
        channel=Channel.TELEGRAM,
        locale="en",
    )
    text = r.personalise(body, None).text
    assert len(text) > 5 * TELEGRAM_LIMIT
    chunks = split_telegram_html(text)
    assert len(chunks) > 5
    for chunk in chunks:
        assert len(chunk) <= TELEGRAM_LIMIT
        assert check_telegram_html(chunk) == [], chunk
    squeeze = re.compile(r"\s+")
    whole = squeeze.sub("", html_text(text)[0])
    assert squeeze.sub("", "".join(html_text(c)[0] for c in chunks)) == whole
    joined = " ".join(html_text(c)[0] for c in chunks)
    for number in range(40):
        assert f"Update number {number} with a longish title & <angle> brackets" in joined


def test_sample_telegram_outputs_are_valid() -> None:
    for final in (render_alert(Channel.TELEGRAM, None), render_digest(Channel.TELEGRAM, None)):
        for chunk in split_telegram_html(final.text):
            assert len(chunk) <= TELEGRAM_LIMIT
            assert check_telegram_html(chunk) == []


# --- headers --------------------------------------------------------------------------------------


def message_from_bytes_compat32(raw: bytes) -> email.message.Message:
    """Headers as raw strings (folding undone only by our own join), for RFC 2047 decoding."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def build_email(content: EmailContent, *, mail_from: str, now: datetime) -> bytes:
    return EmailBuilder(mail_from=mail_from).build(content, now=now)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


EXPECTED_HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
}


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_newlines_in_title_or_name_never_make_a_header(newline: str) -> None:
    r = renderer()
    case, update = evil_views()
    title = f"Released{newline}Bcc: victim@example.org{newline}X-Injected: yes"
    case = dataclasses.replace(case, name=f"Ivan{newline}X-Case: 1")
    update = dataclasses.replace(update, title=title)
    personal = Personal(
        name=f"Anna{newline}Bcc: other@example.org",
        email="anna@example.org",
        reason="you follow news from Kazakhstan",
        unsubscribe_url="https://notifier.example.org/u/1",
        preferences_url="https://notifier.example.org/p/1",
    )
    final = r.personalise(r.alert(case, update, Channel.EMAIL, "en"), personal)
    # The renderer gets a folded subject, but build_email must not rely on it.
    content = email_content(final, personal, "notifier alerts <alerts.example.org>")
    content = dataclasses.replace(content, subject=f"Hello{newline}Bcc: x@example.org")
    parsed = parse(build_email(content, mail_from=MAIL_FROM, now=NOW))
    assert set(parsed.keys()) == EXPECTED_HEADERS
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert str(parsed["Subject"]) == "Hello Bcc: x@example.org"
    [to] = parsed["To"].addresses
    assert to.addr_spec == "anna@example.org"
    assert to.display_name == "Anna Bcc: other@example.org"
    # And the rendered subject is one line too.
    assert final.subject == " ".join(final.subject.split())
    content = email_content(final, personal, "notifier alerts <alerts.example.org>")
    parsed = parse(build_email(content, mail_from=MAIL_FROM, now=NOW))
    assert set(parsed.keys()) == EXPECTED_HEADERS
    assert "Bcc: victim@example.org X-Injected: yes" in str(parsed["Subject"])


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("Анна Петрова", "Пастор Бахытжан: апелляция прокуроров"),
        ("王小明", "中文标题：牧师被释放"),
        ("Anna 🙏 Petrova", "🙏 Pray now: pastor released 🕊️"),
        (
            "Анна «Аня» Петрова-Иванова, 王小明 🙏",
            "URGENT: Пастор Бахытжан Кашкумбаев: 中文 and emoji 🙏 in a subject long enough "
            "to fold over several lines of the header section",
        ),
    ],
)
def test_non_ascii_headers_are_encoded_and_decode_back(name: str, subject: str) -> None:
    personal = Personal(
        name=name,
        email="reader@example.org",
        reason="r",
        unsubscribe_url="https://notifier.example.org/u/1",
        preferences_url="https://notifier.example.org/p/1",
    )
    final = FinalMessage(subject=subject, text="Hello\n", html="<p>Hello</p>\n")
    content = email_content(final, personal, "Kazakhstan prayer chain <kz.example.org>")
    raw = build_email(content, mail_from="Молитва 🙏 <news@example.org>", now=NOW)
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # every header is 7-bit
    assert b"=?utf-8?" in head
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    parsed = parse(raw)
    assert str(parsed["Subject"]) == subject
    # RFC 2047 decoding of the raw header gives the name back exactly...
    raw_to = message_from_bytes_compat32(raw)["To"]
    assert str(make_header(decode_header(raw_to))) == f"{name} <reader@example.org>"
    # ...and so does the stdlib's address parser, except that, unlike RFC 2047 §6.2 asks, it
    # keeps the folding space between two adjacent encoded words of a long display name.
    [to] = parsed["To"].addresses
    assert to.addr_spec == "reader@example.org"
    assert to.display_name.replace(" ", "") == name.replace(" ", "")
    if b"\r\n =?utf-8?" not in head.split(b"\r\nTo: ", 1)[1].split(b"\r\nSubject:", 1)[0]:
        assert to.display_name == name
    [sender] = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Молитва 🙏", "news@example.org")


def test_built_email_parts() -> None:
    final = render_alert(Channel.EMAIL)
    content = email_content(final, ALERT_READER, "notifier alerts <alerts.example.org>")
    parsed = parse(build_email(content, mail_from=MAIL_FROM, now=NOW))
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n") == final.text
    assert html.get_content().replace("\r\n", "\n").rstrip("\n") == final.html.rstrip("\n")
    assert parsed["List-Unsubscribe"] == f"<{ALERT_READER.unsubscribe_url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Date"] == "Mon, 14 Apr 2014 05:30:00 +0000"


# --- templates ------------------------------------------------------------------------------------


def test_shipped_templates_pass_check() -> None:
    check_templates(make_environment(None))


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_override_with_syntax_error_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "email/alert.txt", "{{ case.title }}\nStatus: {% if %}\n")
    with pytest.raises(TemplateProblem) as caught:
        check_templates(make_environment(tmp_path))
    message = str(caught.value)
    assert f"{path}:2: " in message, message
    assert message.count("\n") == 1, "only the broken template is reported"


def test_override_with_undefined_variable_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email/footer.txt",
        "{{ '-- ' }}\nYou receive this because {{ reason }}.\nHello {{ nickname }}\n",
    )
    with pytest.raises(TemplateProblem) as caught:
        check_templates(make_environment(tmp_path))
    message = str(caught.value)
    assert f"{path}:3" in message, message
    assert "nickname" in message


def test_render_reports_undefined_variable_at_send_time(tmp_path: Path) -> None:
    write(tmp_path, "email/footer.txt", "Hello {{ nickname }}\n")
    r = renderer(tmp_path)
    case, update = alert_sample()
    body = r.alert(case, update, Channel.EMAIL, "en")
    with pytest.raises(TemplateProblem, match=r"footer\.txt:1: .*nickname"):
        r.personalise(body, ALERT_READER)


def test_override_of_one_template_keeps_the_others(tmp_path: Path) -> None:
    write(
        tmp_path,
        "email/footer.txt",
        "{{ '-- ' }}\nSent to {{ email }} because {{ reason }}.\nStop: {{ unsubscribe_url }}\n",
    )
    check_templates(make_environment(tmp_path))
    r = renderer(tmp_path)
    case, update = alert_sample()
    final = r.personalise(r.alert(case, update, Channel.EMAIL, "en"), ALERT_READER)
    assert f"Sent to {ALERT_READER.email} because {ALERT_READER.reason}." in final.text
    assert f"Stop: {ALERT_READER.unsubscribe_url}" in final.text
    assert "Change what you follow" not in final.text
    # Everything else still comes from the package.
    shipped = render_alert(Channel.EMAIL)
    assert final.subject == shipped.subject
    assert final.html == shipped.html
    assert final.text.split("\n-- \n")[0] == shipped.text.split("\n-- \n")[0]
