"""Case content in several languages: a case's summary, prayer, actions and letter guidance and an
update's title and body, translated in case files, the API and the console; readers get their
language where a text is translated, else the original with a note in their language; English
readers see what they always saw."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from notifier import app as tasks
from notifier import limits, locales
from notifier.config import Settings
from notifier.domain import Channel
from notifier.domain.actors import Actor
from notifier.errors import InputError
from notifier.ingest.case_files import parse_case_text
from notifier.render.templates import period_label
from notifier.senders import email_sender
from notifier.service import Pipeline, pipeline
from notifier.store.engine import Store
from notifier.store.models import Case, Subscriber, Update
from notifier.watch import watch_once
from notifier.web.app import create_app
from tests import render_samples
from tests.helpers import (
    AUTH,
    KZ,
    AppClient,
    add_console_users,
    console_form,
    console_sign_in,
    maildir,
    seed,
    subscribe,
)

ROOT = Path(__file__).resolve().parent.parent
NOTE = {"de": "(Noch nicht übersetzt.)", "ru": "(Ещё не переведено.)"}
ADMIN = Actor.cli("tests")

#: A case file with a German translation of the case and of one of its two updates.
CASE_FILE = """\
slug: anna-example
name: Anna Example
country: KZ
status: detained
summary: |
  Detained after a house-church meeting.
letter:
  address: Anna Example, Prison 2, Almaty
  guidance: Write briefly.
actions:
  - kind: pray
    text: Pray for Anna.
  - kind: write
    text: Send her a card.
prayer: Lord, be near Anna.
translations:
  de:
    summary: |
      Nach einem Hauskreistreffen festgenommen.
    letter_guidance: Schreiben Sie kurz.
    actions:
      - Beten Sie für Anna.
      - Schicken Sie ihr eine Karte.
    prayer: Herr, sei Anna nahe.
updates:
  - key: detained
    date: 2024-03-01
    title: Detained after a meeting
    body: |
      Police stopped the meeting.

      Her family may not see her.
    translations:
      de:
        title: Nach einem Treffen festgenommen
        body: |
          Die Polizei beendete das Treffen.

          Ihre Familie darf sie nicht sehen.
  - key: moved
    date: 2024-03-05
    title: Moved to another prison
"""


def line_of(text: str, marker: str) -> int:
    """The line (from 1) of the first line of `text` holding `marker`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


async def stored_case(store: Store, slug: str) -> tuple[Case, list[Update]]:
    async with store.read() as session:
        case = await session.scalar(select(Case).where(Case.slug == slug))
        assert case is not None
        updates = list(await session.scalars(select(Update).where(Update.case_id == case.id)))
        return case, sorted(updates, key=lambda u: u.event_date)


# --- case files -----------------------------------------------------------------------------


async def test_a_case_file_with_translations_loads_and_round_trips(store: Store) -> None:
    first = await tasks.import_case_text(store, ADMIN, CASE_FILE, name="anna.yaml")
    assert first.report.cases_created == ["anna-example"]
    case, (detained, moved) = await stored_case(store, "anna-example")
    assert case.translations == {
        "de": {
            "summary": "Nach einem Hauskreistreffen festgenommen.",
            "prayer": "Herr, sei Anna nahe.",
            "actions": ["Beten Sie für Anna.", "Schicken Sie ihr eine Karte."],
            "letter_guidance": "Schreiben Sie kurz.",
        }
    }
    assert detained.translations["de"]["title"] == "Nach einem Treffen festgenommen"
    assert detained.translations["de"]["body"].endswith("Ihre Familie darf sie nicht sehen.")
    assert moved.translations == {}
    # The same file again changes nothing; the case as JSON gives the translations back, and
    # as a case file read again they are what the file said.
    again = await tasks.import_case_text(store, ADMIN, CASE_FILE, name="anna.yaml")
    assert again.report.cases_unchanged == ["anna-example"]
    assert again.report.updates_unchanged == 2
    detail = await tasks.case_detail(store, ADMIN, "anna-example")
    assert detail["translations"] == case.translations
    assert detail["updates"][0]["translations"] == detained.translations
    [spec] = parse_case_text(CASE_FILE, "anna.yaml")
    assert tasks.check_case_spec(detail["spec"]).translations == spec.translations


async def test_a_changed_translation_in_a_file_is_an_edit_of_the_update(store: Store) -> None:
    await tasks.import_case_text(store, ADMIN, CASE_FILE, name="anna.yaml")
    corrected = CASE_FILE.replace(
        "title: Nach einem Treffen festgenommen", "title: Nach einem Treffen verhaftet"
    )
    report = (await tasks.import_case_text(store, ADMIN, corrected, name="anna.yaml")).report
    assert (report.updates_changed, report.updates_unchanged) == (1, 1)
    _, (detained, moved) = await stored_case(store, "anna-example")
    assert detained.translations["de"]["title"] == "Nach einem Treffen verhaftet"
    assert detained.edited_at is not None  # alerts not yet sent render it afresh
    assert moved.edited_at is None


def test_the_sample_cases_carry_german_and_russian_for_every_text() -> None:
    for spec in render_samples.sample_specs().values():
        for language in ("de", "ru"):
            texts = spec.translations[language]
            assert texts.summary
            assert texts.prayer
            assert len(texts.actions or []) == len(spec.actions)
            assert (texts.letter_guidance is None) == (
                spec.letter is None or spec.letter.guidance is None
            )
            for update in spec.updates:
                translated = update.translations[language]
                assert translated.title
                assert translated.body
    # Names, dates and the prison address stay as written.
    pastor = render_samples.sample_specs()[render_samples.KASHKUMBAYEV]
    released = next(u for u in pastor.updates if u.stable_key() == "2014-02-27-released")
    assert "Bakhystzhan" in released.translations["ru"].body  # type: ignore[operator]
    assert "2014" in released.translations["de"].body  # type: ignore[operator]


BAD: list[tuple[str, str, str, str, str]] = [
    # (what, text replaced, by, the field named, said)
    ("unknown field", "    prayer: Herr, sei Anna nahe.", "    colour: rot",
     "translations.de.colour", "Extra inputs are not permitted"),
    ("not a language", "  de:\n    summary", "  klingon!:\n    summary",
     "translations.klingon!.[key]", "is not a language"),
    ("the original's language", "  de:\n    summary", "  en:\n    summary",
     "translations.en.[key]", "the original is in that language already"),
    ("a NUL", "    prayer: Herr, sei Anna nahe.", '    prayer: "Herr,\\0 sei Anna nahe."',
     "translations.de.prayer", "NUL (U+0000)"),
    ("over-long", "        title: Nach einem Treffen festgenommen",
     "        title: " + "x" * (limits.TITLE + 1), "updates.0.translations.de.title",
     f"{limits.TITLE + 1} characters; at most {limits.TITLE}"),
    ("wrong type", "    letter_guidance: Schreiben Sie kurz.", "    letter_guidance: [kurz]",
     "translations.de.letter_guidance", "valid string"),
    ("an action too few", "      - Schicken Sie ihr eine Karte.\n", "",
     "translations.de.actions", "1 translated for 2 actions"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "old", "new", "field", "said"), BAD, ids=[b[0] for b in BAD])
async def test_a_bad_translation_is_named_by_file_line_and_field_and_nothing_changes(
    store: Store, what: str, old: str, new: str, field: str, said: str
) -> None:
    assert old in CASE_FILE
    text = CASE_FILE.replace(old, new, 1)
    with pytest.raises(InputError) as refused:
        await tasks.import_case_text(store, ADMIN, text, name="anna.yaml")
    [problem] = refused.value.problems
    assert problem.field == field
    assert said in problem.reason
    # The line of the value refused (the first item of a list, a key refused as a key).
    marker = new.strip().split("\n")[0] or "- Beten Sie für Anna."
    where = line_of(text, marker)
    assert problem.where == f"anna.yaml:{where}"
    async with store.read() as session:
        assert await session.scalar(select(Case).where(Case.slug == "anna-example")) is None


# --- the API --------------------------------------------------------------------------------


def _case_body(**changes: Any) -> dict[str, Any]:
    [spec] = parse_case_text(CASE_FILE, "anna.yaml")
    return spec.model_dump(mode="json", exclude_none=True) | changes


async def test_the_api_takes_gives_back_and_checks_translations(
    api: tuple[Pipeline, httpx.AsyncClient],
) -> None:
    _p, client = api
    made = await client.post("/api/cases", json=_case_body(), headers=AUTH)
    assert made.status_code == 201, made.text
    shown = (await client.get("/api/cases/anna-example", headers=AUTH)).json()
    assert shown["translations"]["de"]["prayer"] == "Herr, sei Anna nahe."
    assert shown["updates"][0]["translations"]["de"]["title"] == "Nach einem Treffen festgenommen"

    added = await client.post(
        "/api/cases/anna-example/updates",
        json={"title": "Trial set", "date": "2024-04-01", "body": "The trial opens on 9 May.",
              "translations": {"ru": {"title": "Суд назначен", "body": "Суд начнётся 9 мая."}}},
        headers=AUTH,
    )  # fmt: skip
    assert added.status_code == 201, added.text
    update_id = added.json()["id"]
    corrected = await client.patch(
        f"/api/updates/{update_id}",
        json={"translations": {"de": {"title": "Prozess angesetzt"}}},
        headers=AUTH,
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["changed"] == ["translations"]
    assert corrected.json()["translations"] == {
        "de": {"title": "Prozess angesetzt"},
        "ru": {"title": "Суд назначен", "body": "Суд начнётся 9 мая."},
    }
    removed = await client.patch(
        f"/api/updates/{update_id}", json={"translations": {"ru": None}}, headers=AUTH
    )
    assert removed.json()["translations"] == {"de": {"title": "Prozess angesetzt"}}

    refusals: list[tuple[str, str, dict[str, Any], str]] = [
        ("post", "/api/cases/anna-example/updates",
         {"title": "x", "translations": {"en": {"title": "x"}}}, "translations.en"),
        ("patch", f"/api/updates/{update_id}",
         {"translations": {"de": {"title": "a\u0000b"}}}, "translations.de.title"),
        ("patch", f"/api/updates/{update_id}",
         {"translations": {"de": {"body": "x" * (limits.BODY + 1)}}}, "translations.de.body"),
        ("patch", f"/api/updates/{update_id}",
         {"translations": {"de": {"colour": "rot"}}}, "translations.de.colour"),
        ("patch", f"/api/updates/{update_id}",
         {"translations": {"de": "Prozess"}}, "translations.de"),
        ("post", "/api/cases",
         _case_body(translations={"de": {"actions": ["nur eine"]}}), "translations.de.actions"),
    ]  # fmt: skip
    for method, path, body, field in refusals:
        answer = await client.request(method, path, json=body, headers=AUTH)
        assert answer.status_code == 422, (path, body, answer.text)
        fields = [e["field"] for e in answer.json()["detail"]]
        assert any(f.startswith(field) for f in fields), (field, fields)
    after = (await client.get("/api/cases/anna-example", headers=AUTH)).json()
    assert after["translations"] == shown["translations"]


# --- the console ----------------------------------------------------------------------------


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[AppClient]:
    async with pipeline(settings) as p:
        await seed(p)
        await add_console_users(p)
        app = create_app(settings, p.store, email_sender=lambda: email_sender(settings))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            yield p, c


def fields_of(page: str) -> dict[str, str]:
    """The text fields and areas of a page's forms, by name, as shown."""
    found = {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(
            r'<input id="f-[^"]*" name="([^"]+)" type="[^"]*" value="([^"]*)"', page
        )
    }
    found |= {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(
            r'<textarea id="f-[^"]*" name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S
        )
    }
    return found


async def test_the_console_saves_a_case_and_an_update_translation(console: AppClient) -> None:
    p, client = console
    assert (await console_sign_in(client, "editor@example.org")).status_code == 303
    token = await console_form(client, "/admin/account")
    # (Makhset's: the console's action lines cannot hold the pastor's write action, whose
    # address has line breaks.)
    slug = render_samples.DJABBARBERGENOV
    page = await client.get(f"/admin/cases/{slug}")
    draft_fields = ("date", "title", "body", "source", "url")
    form = {k: v for k, v in fields_of(page.text).items() if k not in draft_fields}
    assert form["tr:ru:prayer"].startswith("Дорогой Господь,")
    assert form["tr:de:actions"].count("\n") == 1  # two actions, one a line
    form |= {"status": "exiled", "published": "yes", "tr:de:prayer": "Herr, segne ihn."}
    saved = await client.post(f"/admin/cases/{slug}", data=form | {"csrf": token})
    assert saved.status_code == 303, saved.text
    case, updates = await stored_case(p.store, slug)
    assert case.translations["de"]["prayer"] == "Herr, segne ihn."
    assert case.translations["ru"]["prayer"].startswith("Дорогой Господь,")

    # One action line too few: refused, named beside the field, nothing saved.
    short = form | {"tr:de:actions": "Beten Sie.", "tr:de:prayer": "Anders."}
    refused = await client.post(f"/admin/cases/{slug}", data=short | {"csrf": token})
    assert refused.status_code == 400
    assert "1 translated for 2 actions" in html.unescape(refused.text)
    assert 'aria-describedby="e-tr:de:actions' in refused.text
    assert (await stored_case(p.store, slug))[0].translations == case.translations

    # An update's German title corrected on its page; the Russian kept.
    update = updates[-1]
    page = await client.get(f"/admin/updates/{update.id}")
    draft = fields_of(page.text)
    assert draft["tr:de:title"] == update.translations["de"]["title"]
    draft["tr:de:title"] = "Freigelassen und nach Deutschland geflogen"
    corrected = await client.post(
        f"/admin/updates/{update.id}", data=draft | {"csrf": token, "urgent": ""}
    )
    assert corrected.status_code == 303, corrected.text
    _, after = await stored_case(p.store, slug)
    assert after[-1].translations["de"]["title"] == draft["tr:de:title"]
    assert after[-1].translations["ru"] == update.translations["ru"]
    bad = await client.post(
        f"/admin/updates/{update.id}", data=draft | {"csrf": token, "tr:de:title": "a\nb"}
    )
    assert bad.status_code == 400
    assert 'aria-describedby="e-tr:de:title' in bad.text


# --- what readers get -------------------------------------------------------------------------


async def test_a_german_reader_gets_the_german_update_and_the_note_where_there_is_none(
    settings: Settings,
) -> None:
    """Through the pipeline into the Maildir: one update with a German translation, one
    without; `de`, `ru` and `en` readers."""
    async with pipeline(settings) as p:
        await seed(p, with_list=False)
        for email in ("de@example.org", "ru@example.org", "en@example.org"):
            await subscribe(p, email, KZ)
        async with p.store.transaction() as session:
            for person in await session.scalars(select(Subscriber)):
                person.locale = person.email.split("@")[0] if person.email else "en"
        await tasks.add_update(
            p.store, "kashkumbaev", by=ADMIN, day=date(2024, 5, 1), title="Appeal heard",
            body="The court heard the appeal.", translations={
                "de": {"title": "Berufung verhandelt", "body": "Das Gericht hörte die Berufung."}
            },
        )  # fmt: skip
        await tasks.add_update(
            p.store, "kashkumbaev", by=ADMIN, day=date(2024, 5, 2), title="Verdict tomorrow"
        )
        await watch_once(p.store)
        await p.deliverer.drain()
    texts: dict[str, list[tuple[str, str, str]]] = {}
    for message in maildir(settings):
        who = str(message["To"]).split("@")[0].split("<")[-1]
        plain, rich = message.get_body(("plain",)), message.get_body(("html",))
        assert plain is not None
        assert rich is not None
        texts.setdefault(who, []).append(
            (
                str(message["Subject"]),
                plain.get_content().replace("\r\n", "\n"),
                rich.get_content(),
            )
        )
    german = {subject: (text, markup) for subject, text, markup in texts["de"]}
    translated = next(s for s in german if "Berufung verhandelt" in s)
    text, markup = german[translated]
    assert "1. Mai 2024: Berufung verhandelt\n\nDas Gericht hörte die Berufung." in text
    assert "Beten Sie für Pastor Bakhytzhan, seine Familie und seine Gemeinde." in text
    assert NOTE["de"] not in text
    assert NOTE["de"] not in markup
    original = next(s for s in german if "Verdict tomorrow" in s)
    text, markup = german[original]
    assert f"2. Mai 2024: Verdict tomorrow\n{NOTE['de']}\n" in text
    assert NOTE["de"] in markup
    russian = [text for _, text, _ in texts["ru"]]
    assert all(f"\n{NOTE['ru']}\n" in t for t in russian)  # neither is in Russian
    assert any("Молитесь о пасторе Bakhytzhan, его семье и общине." in t for t in russian)
    english = [text for _, text, _ in texts["en"]]
    assert all("translated" not in t and "Berufung" not in t for t in english)
    assert any("1 May 2024: Appeal heard\n\nThe court heard the appeal." in t for t in english)


def test_alerts_render_each_language_and_english_is_unchanged() -> None:
    r = render_samples.renderer()
    case, update = render_samples.alert_sample()
    telegram = r.alert(case, update, Channel.TELEGRAM, "de-AT").text
    assert "Bewährungsstrafe; Staatsanwaltschaft legt Berufung ein</b>" in telegram
    assert "Vater im Himmel" in telegram
    assert NOTE["de"] not in telegram
    # Without a German title (the text keeps its translation): a note, in Telegram too.
    bare = dataclasses.replace(update, translations=())
    assert f"{NOTE['de']}</i>" in r.alert(case, bare, Channel.TELEGRAM, "de").text
    email = r.alert(case, bare, Channel.EMAIL, "de")
    assert email.subject.endswith(": Suspended sentence; prosecutors appeal")
    assert email.text.count(NOTE["de"]) == 1  # the update's; the case is all translated
    for channel, name in ((Channel.EMAIL, "alert.txt"), (Channel.TELEGRAM, "alert.telegram.html")):
        golden = (ROOT / "tests" / "golden" / name).read_text(encoding="utf-8")
        assert render_samples.render_alert(channel).text == golden


def test_a_russian_digest_uses_the_russian_texts() -> None:
    r = render_samples.renderer()
    sections = render_samples.digest_sections()
    with locales.speaking("ru"):
        body = r.digest(
            title=locales._("Your weekly digest"),
            intro=(),
            sections=sections,
            period_label=period_label(date(2014, 2, 24), date(2014, 3, 3)),
            channel=Channel.EMAIL,
            locale="ru",
        )
    for title in (
        "Освобождён из тюрьмы; приговорён к испытательному сроку",
        "Повторно арестован у ворот тюрьмы; суд откладывается",
        "Освобождён и вывезен в Германию; въезд в Казахстан запрещён до 2017 года",
        "Два обвинения сняты; пастор отказывается участвовать в процессе",
    ):
        assert title in " ".join(body.text.split())  # the text is wrapped
        assert title in body.html
    assert "Дорогой Господь," in body.text
    assert "Отправьте послу Казахстана сообщение" in body.html
    assert NOTE["ru"] not in body.text
    assert "Released from prison" not in body.text
    golden = (ROOT / "tests" / "golden" / "digest.txt").read_text(encoding="utf-8")
    assert render_samples.render_digest(Channel.EMAIL).text == golden
