"""Views of stored cases and updates, as templates see them (notifier.domain.views)."""

from __future__ import annotations

from notifier.countries import country_name
from notifier.domain.status_words import status_words
from notifier.domain.views import (
    ActionView,
    CaseText,
    CaseView,
    UpdateText,
    UpdateView,
    lines,
    paragraphs,
)
from notifier.domain.vocabulary import Severity
from notifier.store.models import Case, Update


def _actions(case: Case, letter: tuple[str, ...]) -> tuple[ActionView, ...]:
    """A `write` action with no address of its own means "write to the case's letter address":
    the first such action carries it, so every face shows it where the reader is asked to write
    (and says it once, however many write actions there are)."""
    views = []
    lent = False
    for action in case.actions:
        kind = str(action.get("kind", ""))
        address = lines(action.get("address"))
        if not address and kind == "write" and not lent:
            address, lent = letter, True
        views.append(ActionView(kind, " ".join(str(action.get("text", "")).split()), address))
    return tuple(views)


def _one_line(text: str | None) -> str | None:
    return None if text is None else " ".join(text.split())


def _paragraphs(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else paragraphs(text)


def _case_texts(case: Case) -> tuple[tuple[str, CaseText], ...]:
    found = []
    for language, texts in sorted((case.translations or {}).items()):
        actions = texts.get("actions")
        found.append(
            (
                language,
                CaseText(
                    summary=_paragraphs(texts.get("summary")),
                    prayer=_paragraphs(texts.get("prayer")),
                    actions=None if actions is None else tuple(_one_line(a) or "" for a in actions),
                    letter_guidance=_one_line(texts.get("letter_guidance")),
                ),
            )
        )
    return tuple(found)


def _update_texts(update: Update) -> tuple[tuple[str, UpdateText], ...]:
    return tuple(
        (language, UpdateText(_one_line(texts.get("title")), _paragraphs(texts.get("body"))))
        for language, texts in sorted((update.translations or {}).items())
    )


def case_view(case: Case) -> CaseView:
    letter = lines(case.letter_address)
    return CaseView(
        id=case.id,
        slug=case.slug,
        name=case.name,
        role=case.role,
        country=case.country,
        country_name=country_name(case.country),
        status=status_words(case.status),
        summary=paragraphs(case.summary),
        letter_address=letter,
        letter_guidance=" ".join((case.letter_guidance or "").split()),
        actions=_actions(case, letter),
        prayer=paragraphs(case.prayer),
        translations=_case_texts(case),
    )


def update_view(update: Update) -> UpdateView:
    return UpdateView(
        id=update.id,
        date=update.event_date,
        title=" ".join(update.title.split()),
        paragraphs=paragraphs(update.body),
        source_name=update.source_name,
        source_url=update.source_url,
        urgent=update.severity is Severity.URGENT,
        translations=_update_texts(update),
    )
