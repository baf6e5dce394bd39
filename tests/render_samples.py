"""The two sample cases as the renderer's input, built in memory without a store (fixed ids,
as the importer would give them), and the readers the messages are personalised for: what the
render tests, their golden files and the email-detail tests render."""

from __future__ import annotations

import dataclasses
from datetime import date
from functools import cache
from pathlib import Path

from notifier import locales
from notifier.config import Settings
from notifier.countries import country_label
from notifier.domain import Channel
from notifier.domain.case_specs import CaseSpec
from notifier.domain.views import CaseView, CountrySection, UpdateView, group_updates, paragraphs
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.ingest.list_files import load_list_files
from notifier.render.messages import FinalMessage, Personal, Renderer
from notifier.render.templates import period_label
from notifier.store.cases import _update_fields, case_fields
from notifier.store.models import Case, Update
from notifier.store.views import case_view, update_view
from tests.helpers import EXAMPLE_LISTS

KASHKUMBAYEV = "bakhytzhan-kashkumbayev"
DJABBARBERGENOV = "makhset-djabbarbergenov"
CASE_IDS = {KASHKUMBAYEV: 1, DJABBARBERGENOV: 2}

PUBLIC_URL = "https://notifier.example.org"

ALERT_READER = Personal(
    name="Анна Петрова",
    email="anna.petrova@example.org",
    reason="you follow news from Kazakhstan",
    unsubscribe_url=f"{PUBLIC_URL}/unsubscribe/7.1.Zm9v-YmFy",
    preferences_url=f"{PUBLIC_URL}/preferences/7.1.Zm9v-YmFy",
)
LIST_READER = Personal(
    name="Анна Петрова",
    email="anna.petrova@example.org",
    reason="you are on the list “Kazakhstan prayer chain”",
    unsubscribe_url=f"{PUBLIC_URL}/unsubscribe/7.1.Zm9v-YmFy",
    preferences_url=f"{PUBLIC_URL}/preferences/7.1.Zm9v-YmFy",
)


@cache
def sample_specs() -> dict[str, CaseSpec]:
    """The sample case files, by slug."""
    return {spec.slug: spec for spec in load_case_files(sample_case_files())}


@cache
def sample_rows() -> dict[str, tuple[Case, dict[str, Update]]]:
    """ORM rows built in memory as the importer would, with fixed ids: cases 1 and 2, updates
    numbered across both cases oldest first (as the importer gives them out)."""
    rows: dict[str, tuple[Case, dict[str, Update]]] = {}
    all_updates = []
    for slug, spec in sample_specs().items():
        case = Case(id=CASE_IDS[slug], slug=slug, **case_fields(spec))
        rows[slug] = (case, {})
        all_updates += [(u.date, slug, u) for u in spec.updates]
    for number, (_, slug, update_spec) in enumerate(sorted(all_updates), start=1):
        case, updates = rows[slug]
        updates[update_spec.stable_key()] = Update(
            id=number, case_id=case.id, key=update_spec.stable_key(), **_update_fields(update_spec)
        )
    return rows


def sample_view(slug: str, key: str) -> tuple[CaseView, UpdateView]:
    """One update of a sample case, as the templates see it."""
    case, updates = sample_rows()[slug]
    return case_view(case), update_view(updates[key])


def renderer(templates_dir: Path | None = None) -> Renderer:
    """A renderer with the test public URL, and the shipped templates or these."""
    return Renderer(Settings(public_url=PUBLIC_URL, templates_dir=templates_dir))


def alert_sample() -> tuple[CaseView, UpdateView]:
    """The update the golden alert is made of: Kashkumbayev's appeal."""
    return sample_view(KASHKUMBAYEV, "2014-04-13-appeal")


def digest_sections() -> tuple[CountrySection, ...]:
    """Four updates of both sample cases, grouped as a digest groups them."""
    items = [
        sample_view(KASHKUMBAYEV, "2014-02-27-released"),
        sample_view(KASHKUMBAYEV, "2014-02-01-rearrested"),
        sample_view(DJABBARBERGENOV, "2012-12-06-released-to-germany"),
        sample_view(KASHKUMBAYEV, "2014-02-05-charges-dropped"),
    ]
    return group_updates(items)


def list_description() -> str:
    """The example prayer chain's description, the intro of the golden digest."""
    [(_, spec)] = load_list_files([EXAMPLE_LISTS / "example-prayer-chain.yaml"])
    assert spec.name == "Kazakhstan prayer chain"
    return spec.description


def reader(personal: Personal, locale: str) -> Personal:
    """`personal` as a reader of `locale` gets it: the footer's reason in their language (as
    the deliverer says it: delivery/compose.py's reason_for)."""
    if locale == "en":
        return personal
    with locales.speaking(locale):
        if personal is LIST_READER:
            reason = locales._("you are on the list “%(name)s”") % {
                "name": "Kazakhstan prayer chain"
            }
        else:
            reason = locales._("you follow news from %(country)s") % {
                "country": country_label("KZ")
            }
    return dataclasses.replace(personal, reason=reason, locale=locale)


def render_alert(
    channel: Channel,
    personal: Personal | None = ALERT_READER,
    locale: str = "en",
    *,
    sample: tuple[CaseView, UpdateView] | None = None,
) -> FinalMessage:
    """The golden alert (or `sample`) for this channel in `locale`, personalised for `personal`
    (None: not at all)."""
    r = renderer()
    case, update = sample or alert_sample()
    body = r.alert(case, update, channel, locale)
    return r.personalise(body, reader(personal, locale) if personal else None)


def render_digest(
    channel: Channel, personal: Personal | None = LIST_READER, locale: str = "en"
) -> FinalMessage:
    """The golden digest for this channel in `locale`, personalised for `personal` (None: not
    at all)."""
    r = renderer()
    with locales.speaking(locale):
        body = r.digest(
            title="Kazakhstan prayer chain",
            intro=paragraphs(list_description()),
            sections=digest_sections(),
            period_label=period_label(date(2014, 2, 24), date(2014, 3, 3)),
            channel=channel,
            locale=locale,
        )
    return r.personalise(body, reader(personal, locale) if personal else None)
