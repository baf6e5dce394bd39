"""Case content in other languages: a case's summary, prayer, actions and letter guidance, and an
update's title and body, each optionally translated, per language tag. The original is in the
network's language (English, `locales.DEFAULT`): a translation into it is refused, since readers
of it get the original. Every translated text obeys the rules and limits of the text it
translates (notifier.limits, notifier.domain.text_fields).

Kept with the case or the update as `{"de": {"title": …, "body": …}}`; readers get the one of
their language (`notifier.domain.views`), else the original with a note that it is not yet
translated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from annotated_types import MinLen
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from notifier import limits, locales
from notifier.domain.text_fields import (
    ActionText,
    Body,
    Guidance,
    Prayer,
    Summary,
    Title,
    friendly_reason,
    one_line,
)
from notifier.errors import InputError, Problem

#: The texts of a case and of an update that may be translated, as their translations name them.
CASE_TEXTS = ("summary", "prayer", "actions", "letter_guidance")
UPDATE_TEXTS = ("title", "body")


def translation_language(value: str) -> str:
    """A translation's language: a language tag (`locales.language_tag`), written as tags are
    ('pt_br' -> 'pt-BR'); ValueError for what is not one, or for the original's language."""
    tag = locales.canonical_tag(locales.language_tag(value))
    if locales.primary_language(tag) == locales.DEFAULT:
        raise ValueError(
            f"{tag!r}: the original is in that language already; translations are into others"
        )
    return tag


Language = Annotated[
    str,
    Field(max_length=limits.LOCALE),
    AfterValidator(one_line),
    AfterValidator(translation_language),
]
Filled = MinLen(1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CaseTranslation(_Strict):
    """A case's texts in one language; a text not given is not translated yet. `actions`: the
    text of each of the case's actions, in their order (one for every action)."""

    summary: Annotated[Summary, Filled] | None = None
    prayer: Annotated[Prayer, Filled] | None = None
    actions: (
        Annotated[list[Annotated[ActionText, Filled]], Field(max_length=limits.ACTIONS)] | None
    ) = None
    letter_guidance: Annotated[Guidance, Filled] | None = None


class UpdateTranslation(_Strict):
    """An update's title and text in one language; one not given is not translated yet."""

    title: Title | None = None
    body: Annotated[Body, Filled] | None = None


CaseTranslations = Annotated[dict[Language, CaseTranslation], Field(max_length=limits.TRANSLATIONS)]
UpdateTranslations = Annotated[
    dict[Language, UpdateTranslation], Field(max_length=limits.TRANSLATIONS)
]


def stored(translations: Mapping[str, BaseModel | None]) -> dict[str, dict[str, Any]]:
    """Translations as the store keeps them: by language (sorted), each text given, and no
    language without one (None: none)."""
    kept = {}
    for language in sorted(translations):
        texts = translations[language]
        dumped = texts.model_dump(mode="json", exclude_none=True) if texts is not None else {}
        if dumped:
            kept[language] = dumped
    return kept


def merged(
    kept: Mapping[str, dict[str, Any]], changes: Mapping[str, BaseModel | None]
) -> dict[str, dict[str, Any]]:
    """Stored translations with the languages in `changes` replaced (None: removed)."""
    result = {language: dict(texts) for language, texts in kept.items() if language not in changes}
    result |= stored(changes)
    return {language: result[language] for language in sorted(result)}


Loc = tuple[str | int, ...]


def case_translation_problems(
    translations: Mapping[str, CaseTranslation],
    *,
    summary: str,
    prayer: str,
    actions: int,
    letter_guidance: str | None,
) -> list[tuple[Loc, str]]:
    """What the translations say that the case does not: a text the case has not (nothing to
    translate), or not one translated action for each action. Each as (place, reason)."""
    found: list[tuple[Loc, str]] = []
    has = {
        "summary": bool(summary),
        "prayer": bool(prayer),
        "letter_guidance": bool(letter_guidance),
    }
    for language, texts in translations.items():
        for name, present in has.items():
            if getattr(texts, name) is not None and not present:
                what = name.replace("_", " ")
                found.append(((language, name), f"the case has no {what} to translate"))
        given = texts.actions
        if given is not None and len(given) != actions:
            found.append(
                (
                    (language, "actions"),
                    f"{len(given)} translated for {actions} action{'s' if actions != 1 else ''}: "
                    "give the text of each action, in their order",
                )
            )
        if not any(getattr(texts, name) is not None for name in CASE_TEXTS):
            found.append(((language,), f"give at least one of {', '.join(CASE_TEXTS)}"))
    return found


def update_translation_problems(
    translations: Mapping[str, UpdateTranslation | None], *, body: str
) -> list[tuple[Loc, str]]:
    """As `case_translation_problems`, for an update's translations."""
    found: list[tuple[Loc, str]] = []
    for language, texts in translations.items():
        if texts is None:
            continue
        if texts.body is not None and not body:
            found.append(((language, "body"), "the update has no text to translate"))
        if texts.title is None and texts.body is None:
            found.append(((language,), "give its title, its body, or both"))
    return found


def check_update_translations(
    where: str, given: Mapping[str, Any], *, body: str, prefix: Loc = ("translations",)
) -> dict[str, UpdateTranslation | None]:
    """An update's translations from a form or an API call (language -> {title, body}, or None
    to remove that language's), checked; InputError naming each problem by its place
    (`translations.de.title`)."""
    problems: list[Problem] = []
    checked: dict[str, UpdateTranslation | None] = {}
    if len(given) > limits.TRANSLATIONS:
        raise InputError.single(
            where, ".".join(map(str, prefix)), f"at most {limits.TRANSLATIONS} languages"
        )
    for key, texts in given.items():
        try:
            language = translation_language(key)
        except ValueError as exc:
            problems.append(Problem(where, _place(*prefix, str(key)[:40]), str(exc)))
            continue
        if texts is None:
            checked[language] = None
            continue
        try:
            checked[language] = UpdateTranslation.model_validate(texts)
        except ValidationError as exc:
            problems += [
                Problem(where, _place(*prefix, language, *e["loc"]), friendly_reason(e))
                for e in exc.errors()
            ]
    problems += [
        Problem(where, _place(*prefix, *loc), reason)
        for loc, reason in update_translation_problems(checked, body=body)
    ]
    if problems:
        raise InputError(problems)
    return checked


def _place(*parts: str | int) -> str:
    return ".".join(str(p) for p in parts)
