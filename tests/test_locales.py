"""The languages notifier speaks to its readers: the catalogs of the shipped languages are
complete and current (every text the code and templates mark is translated, none is fuzzy or
left over, placeholders agree), a language is picked from a stored locale or a browser's
Accept-Language, and a reader's confirmation email comes in their language, plural forms
included (Russian has three)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from pydantic import ValidationError
from sqlalchemy import select, update

from notifier import locales
from notifier.config import Settings
from notifier.digests import plan_list_digests
from notifier.domain import Cadence, Channel
from notifier.domain.schedule import next_due, parse_schedule
from notifier.render.messages import Renderer
from notifier.render.templates import period_label
from notifier.service import Pipeline, pipeline
from notifier.store.models import Body, ListDigest, Subscriber
from tests import render_samples
from tests.helpers import KZ, Cli, form, maildir, new_update, news, seed, subscribe, text_of
from tests.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parent.parent


def _key(message: str | Sequence[str], context: str | None) -> str | tuple[str, ...]:
    """A text as extracted or as a catalog holds it: its msgid (singular and plural forms), with
    its msgctxt first when it has one (pgettext)."""
    key = message if isinstance(message, str) else tuple(m for m in message if m)
    return key if context is None else (context, *([key] if isinstance(key, str) else key))


def _marked() -> set[str | tuple[str, ...]]:
    """Every text the code and the templates mark for translation, as babel.cfg extracts it."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.add(_key(message, context))
    return found


MARKED = _marked()


def test_something_is_marked_and_english_needs_no_catalog() -> None:
    assert "Please confirm: news about %(what)s" in MARKED
    assert not (ROOT / "notifier" / "locales" / "en").exists()


@pytest.mark.parametrize("locale", [loc for loc in locales.SHIPPED if loc != locales.DEFAULT])
def test_each_shipped_catalog_is_complete_and_current(locale: str) -> None:
    path = ROOT / "notifier" / "locales" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    held = {_key(m.id, m.context) for m in catalog if m.id}
    problems = [f"missing: {m!r}" for m in sorted(MARKED - held, key=str)]
    problems += [f"left over (no longer marked): {m!r}" for m in sorted(held - MARKED, key=str)]
    problems += [f"obsolete entry: {m!r}" for m in catalog.obsolete]
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"not translated: {message.id!r}")
    problems += [
        f"{message.id!r}: {error}" for message, errors in catalog.check() for error in errors
    ]
    assert problems == [], f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    ("asked", "spoken"),
    [
        ("de", "de"), ("de-AT", "de"), ("de_DE", "de"), ("ru-RU", "ru"), ("en-GB", "en"),
        ("fr", "en"), ("", "en"), (None, "en"), ("x\x00y", "en"), ("not a locale at all", "en"),
    ],
)  # fmt: skip
def test_the_shipped_language_nearest_to_a_locale(asked: str | None, spoken: str) -> None:
    assert locales.shipped(asked) == spoken


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr-FR, ru;q=0.5, de;q=0.4", "ru"),
        ("en;q=0.2, de;q=0.7", "de"),
        ("fr, es", None),
        ("de;q=0, ru", "ru"),
        ("de;q=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_a_language_from_accept_language(header: str | None, language: str | None) -> None:
    assert locales.from_accept_language(header) == language


def test_speaking_is_kept_per_block_and_undone_after() -> None:
    assert locales.current() == "en"
    with locales.speaking("ru-RU") as spoken:
        assert spoken == "ru"
        assert locales._("Hello,") == "Здравствуйте!"
        with locales.speaking("de"):
            assert locales._("Hello,") == "Hallo,"
        assert locales.current() == "ru"
    assert locales._("Hello,") == "Hello,"


def _confirm(renderer: Renderer, locale: str, days: int) -> tuple[str, str, str]:
    final = renderer.confirm(
        name="Anna", what="Kazakhstan", confirm_url="https://example.org/confirm/x",
        valid_days=days, locale=locale,
    )  # fmt: skip
    return final.subject, final.text, final.html


def test_a_confirmation_in_each_language(settings: Settings) -> None:
    renderer = Renderer(settings)
    subject, text, html = _confirm(renderer, "de", 7)
    assert subject == "Bitte bestätigen: Nachrichten über Kazakhstan"
    assert text.startswith("Hallo Anna,\n\njemand, wahrscheinlich Sie, hat ")
    assert "(er gilt 7 Tage):\n\nhttps://example.org/confirm/x\n" in text
    assert '<html lang="de" dir="ltr">' in html
    assert "Anmeldung bestätigen</a>" in html
    assert "Der Link gilt 7 Tage." in html

    subject, text, html = _confirm(renderer, "ru", 7)
    assert subject == "Пожалуйста, подтвердите подписку: Kazakhstan"
    assert text.startswith("Здравствуйте, Anna!\n\n")
    assert '<html lang="ru" dir="ltr">' in html
    # Russian's three plural forms.
    assert "(она действует 1 день):" in _confirm(renderer, "ru", 1)[1]
    assert "(она действует 3 дня):" in _confirm(renderer, "ru", 3)[1]
    assert "(она действует 7 дней):" in text
    assert "(она действует 21 день):" in _confirm(renderer, "ru", 21)[1]

    subject, text, html = _confirm(renderer, "en", 7)  # English as it always was
    assert subject == "Please confirm: news about Kazakhstan"
    assert text == (
        "Hello Anna,\n\nsomeone, probably you, asked notifier to send news about "
        "Kazakhstan to this address.\nTo confirm, open this link (it works for 7 days):\n\n"
        "https://example.org/confirm/x\n\n"
        "If it was not you, ignore this email: nothing more will be sent.\n"
    )
    assert '<html lang="en" dir="ltr">' in html
    assert _confirm(renderer, "en", 1)[1].count("it works for 1 day)") == 1
    # A locale with no catalog reads English; the language a block speaks is left as it was.
    assert _confirm(renderer, "fr", 7)[0] == "Please confirm: news about Kazakhstan"
    assert locales.current() == "en"


def test_an_alert_in_german_and_russian_and_english_unchanged() -> None:
    """The sample alert (an urgent update) as a `de` and a `ru` reader get it: headings, the
    date, the country, the status and the footer in their language; the case's own texts stay
    as written (their translations come with the case). English is the golden alert."""
    r = render_samples.renderer()
    case, update = render_samples.alert_sample()
    urgent = dataclasses.replace(update, urgent=True)
    reader = dataclasses.replace(
        render_samples.ALERT_READER, reason="Sie Nachrichten folgen", locale="de"
    )
    german = r.personalise(r.alert(case, urgent, Channel.EMAIL, "de"), reader)
    assert german.subject.startswith("DRINGEND: Pastor Bakhytzhan Kashkumbayev: ")
    assert "Pastor Bakhytzhan Kashkumbayev (Kasachstan)\nStatus: auf Bewährung\n" in german.text
    assert "13. April 2014 (DRINGEND): " in german.text
    assert "Was Sie tun können" in german.text
    assert "Sie erhalten dies, weil Sie Nachrichten folgen." in german.text
    assert "Auswahl und Häufigkeit ändern: https://" in german.text
    assert '<html lang="de"' in german.html
    assert "Kasachstan · auf Bewährung" in german.html
    assert ">Abmelden</a>" in german.html

    russian = r.alert(case, urgent, Channel.TELEGRAM, "ru")
    text = r.telegram_text(russian, group=False, locale="ru")
    assert "<b>Pastor Bakhytzhan Kashkumbayev</b> · Казахстан · условный срок" in text
    assert "<b>13 апреля 2014\u202fг. · СРОЧНО: " in text  # CLDR: a narrow no-break space
    assert "<b>Что вы можете сделать</b>" in text
    assert text.rstrip().endswith(
        "<i>Отправьте /stop, чтобы больше не получать здесь сообщения.</i>"
    )
    golden = ROOT / "tests" / "golden" / "alert.txt"
    assert render_samples.render_alert(Channel.EMAIL).text == golden.read_text(encoding="utf-8")


async def test_a_german_and_a_russian_reader_get_the_alert_in_their_language(
    settings: Settings,
) -> None:
    """Through the pipeline into the Maildir: readers with locale de and ru (as stored by
    `subscribers add --locale`) get the alert's headings, date, status and footer in German
    and Russian; an English reader's is as before."""
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        for email in ("de@example.org", "ru@example.org", "en@example.org"):
            await subscribe(p, email, KZ)
        async with p.store.transaction() as session:
            for locale in ("de", "ru"):
                await session.execute(
                    update(Subscriber)
                    .where(Subscriber.email == f"{locale}@example.org")
                    .values(locale=locale)
                )
        await news(p, "Appeal court upholds the sentence")
        await p.deliverer.drain()
    got = {str(m["To"]).split("@")[0].split("<")[-1]: m for m in maildir(settings)}
    texts = {}
    for who, message in got.items():
        plain = message.get_body(("plain",))
        assert plain is not None
        texts[who] = plain.get_content()
    assert "Sie erhalten dies, weil Sie Nachrichten aus Kasachstan folgen." in texts["de"]
    assert "Status: auf Bewährung" in texts["de"]
    assert "1. Mai 2024: Appeal court upholds the sentence" in texts["de"]
    assert (
        "Вы получаете это, потому что вы следите за новостями из страны: Казахстан."
        in (texts["ru"])
    )
    assert "Статус: условный срок" in texts["ru"]
    assert "You receive this because you follow news from Kazakhstan." in texts["en"]
    assert "Status: on probation" in texts["en"]


def test_a_digest_in_german_and_russian() -> None:
    """A personal digest as a `de` and a `ru` reader get it: its title and period, the count
    of its updates (Russian's plural forms), the countries, statuses and dates in their
    language. English stays the golden digest."""
    r = render_samples.renderer()
    sections = render_samples.digest_sections()
    for language, title, label, count, country, status in (
        ("de", "Ihre wöchentliche Zusammenfassung", "1.–7. Dez. 2026", "4 Nachrichten",
         "Kasachstan", "(auf Bewährung)"),
        ("ru", "Ваша еженедельная сводка", "1—7 дек. 2026\u202fг.", "4 новости",
         "Казахстан", "(условный срок)"),
    ):  # fmt: skip
        with locales.speaking(language):
            body = r.digest(
                title=locales._("Your weekly digest"),
                intro=(),
                sections=sections,
                period_label=period_label(date(2026, 12, 1), date(2026, 12, 7)),
                channel=Channel.EMAIL,
                locale=language,
            )
        # (A subject is one line of plain spaces: CLDR's narrow no-break space becomes one.)
        assert body.subject == f"{title}: {count}, {label}".replace("\u202f", " ")
        assert f"== {country} ==" in body.text
        assert status in body.text
    with locales.speaking("ru"):
        assert locales.ngettext("%(num)s update", "%(num)s updates", 1) % {"num": 1} == (
            "1 новость"
        )
        assert locales.ngettext("%(num)s update", "%(num)s updates", 11) % {"num": 11} == (
            "11 новостей"
        )
    assert period_label(date(2026, 12, 1), date(2026, 12, 7)) == "1 – 7 December 2026"


@pytest.mark.parametrize("tag", ["de", "ru", "pt-BR", "pt_BR", "en-GB", "sr-Latn", "fr"])
def test_a_language_tag_is_kept_as_given(tag: str) -> None:
    assert locales.language_tag(tag) == tag


def test_a_locale_that_is_no_language_is_refused_at_each_boundary(cli: Cli, tmp_path: Path) -> None:
    """CLI, CSV and the settings name the field and the value; nothing is written."""
    refused = cli("subscribers", "add", "x@example.org", "--locale", "klingon!")
    assert refused.exit_code == 1
    assert (
        "subscribers add [--locale]: 'klingon!' is not a language: give a tag such as de, ru "
        "or pt-BR"
    ) in refused.stderr
    (tmp_path / "people.csv").write_text(
        "email,name,locale\nanna@example.org,Anna,xx\nben@example.org,Ben,de-AT\n",
        encoding="utf-8",
    )
    result = cli("subscribers", "import", "people.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1:] == [
        "  people.csv:2 [locale]: 'xx' is not a language: give a tag such as de, ru or pt-BR"
    ]
    assert json.loads(cli.ok("subscribers", "list", "--json").stdout) == []
    with pytest.raises(ValidationError, match="'tlh' is not a language"):
        Settings(default_locale="tlh")


async def test_a_confirmation_names_the_follows_in_the_readers_language(
    site: tuple[Pipeline, httpx.AsyncClient], smtp_server: SmtpServer
) -> None:
    """Signed up for Kazakhstan and a case, with locale de: the confirmation that arrives by
    SMTP names the country in German (the case by its name) and asks in German."""
    p, client = site
    token = await form(client)
    sent = await client.post(
        "/subscribe",
        data={"csrf": token, "email": "leser@example.org", "follow": "kazakhstan, Kashkumbaev"},
    )
    assert sent.status_code == 200
    async with p.store.transaction() as session:
        await session.execute(
            update(Subscriber).where(Subscriber.email == "leser@example.org").values(locale="de")
        )
    assert (await p.deliverer.drain()).sent == 1
    [confirmation] = smtp_server.received
    assert str(confirmation.message["Subject"]) == (
        "Bitte bestätigen: Nachrichten über Bakhytzhan Kashkumbayev, Kasachstan"
    )
    plain = confirmation.message.get_body(("plain",))
    assert plain is not None
    assert "Zum Bestätigen öffnen Sie diesen Link (er gilt " in plain.get_content()


async def test_a_prayer_chains_digest_comes_to_each_member_in_their_language(
    settings: Settings,
) -> None:
    """The example chain's members read en, de, de-AT and ru: its digest is rendered once per
    language (not per member, not per spelling of a language), each member gets the one in
    their language, footer included, and the console's archive keeps the English copy."""
    async with pipeline(settings) as p:
        await seed(p)
        async with p.store.transaction() as session:
            for email, locale in (("anna.petrova", "ru"), ("david.okafor", "de-AT")):
                await session.execute(
                    update(Subscriber)
                    .where(Subscriber.email == f"{email}@example.org")
                    .values(locale=locale)
                )
        await new_update(p, title="Appeal hearing set")
        monday = next_due(
            parse_schedule("mon 07:00", Cadence.WEEKLY), "Asia/Almaty", datetime.now(UTC)
        )
        report = await plan_list_digests(p.store, p.renderer, now=monday)
        # Email in en, de, ru; Telegram (nobody linked a chat) only the archive's English copy.
        assert (report.messages, report.bodies) == (4, 4)
        await p.deliverer.drain(now=monday)
        async with p.store.transaction() as session:
            rows = await session.execute(select(ListDigest.channel, ListDigest.body_id))
            archived = {channel: body for channel, body in rows}
            bodies = {b.id: b for b in await session.scalars(select(Body))}
    subjects = {str(m["To"]).split("<")[-1].split("@")[0]: m for m in maildir(settings)}
    assert {who: str(m["Subject"]).split(":")[1].split(",")[0] for who, m in subjects.items()} == {
        "anna.petrova": " 1 новость",
        "david.okafor": " 1 Nachricht",
        "maria.schmidt": " 1 Nachricht",
        "prayer-team": " 1 update",
    }
    assert "Sie auf der Liste „Kazakhstan prayer chain“ stehen" in text_of(subjects["david.okafor"])
    assert "вы в списке «Kazakhstan prayer chain»" in text_of(subjects["anna.petrova"])
    assert "you are on the list “Kazakhstan prayer chain”" in text_of(subjects["prayer-team"])
    assert archived.keys() == {Channel.EMAIL, Channel.TELEGRAM}
    assert " 1 update, " in bodies[archived[Channel.EMAIL]].subject
