"""The translations on the case and update forms: one section of fields per language (each
shipped language but the original's, and any other the case or update has), named
`tr:<language>:<text>` (`tr:de:summary`). A case's translated actions are typed one a line, in
the order of its actions. An empty field is a text not translated (yet)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.datastructures import FormData

from notifier import limits, locales
from notifier.domain.translations import CASE_TEXTS, UPDATE_TEXTS
from notifier.errors import Problem
from notifier.web.console.access import text_of
from notifier.web.console.values import lines

PREFIX = "tr"
#: How the translated actions are typed: one a line.
ACTIONS = "actions"


def field_name(language: str, text: str) -> str:
    return f"{PREFIX}:{language}:{text}"


def languages_of(typed: Mapping[str, str], kept: Iterable[str] = ()) -> list[str]:
    """The languages the form shows: every shipped one but the original's, those typed, and
    those kept (`kept`)."""
    shown = [s for s in locales.SHIPPED if s != locales.DEFAULT]
    others = {name.split(":")[1] for name in typed if name.startswith(f"{PREFIX}:")}
    others |= set(kept)
    return shown + sorted(others - set(shown))


def language_labels(languages: Iterable[str]) -> list[tuple[str, str]]:
    """Each language with its name, for the form's sections: ('de', 'German (de)')."""
    return [(tag, f"{locales.language_name(tag)} ({tag})") for tag in languages]


def typed_translations(form: FormData, texts: tuple[str, ...]) -> dict[str, str]:
    """The translation fields of a posted form (at most as many languages as a case may have),
    as typed."""
    typed: dict[str, str] = {}
    languages: set[str] = set()
    for name in form:
        parts = name.split(":")
        if len(parts) != 3 or parts[0] != PREFIX or parts[2] not in texts:
            continue
        if parts[1] not in languages and len(languages) > limits.TRANSLATIONS:
            continue  # past the limit the spec names it; the rest is not read
        languages.add(parts[1])
        typed[name] = text_of(form, name)
    return typed


def form_of_translations(
    translations: Mapping[str, Mapping[str, Any]], texts: tuple[str, ...]
) -> dict[str, str]:
    """Stored translations as the form's fields (every shipped language, empty where none)."""
    typed: dict[str, str] = {}
    for language in languages_of({}, translations):
        given = translations.get(language, {})
        for text in texts:
            value = given.get(text, "")
            typed[field_name(language, text)] = "\n".join(value) if text == ACTIONS else value
    return typed


def translations_of_form(
    typed: Mapping[str, str],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[int]]]:
    """The typed fields as translations ({"de": {"summary": …, "actions": [...]}}), leaving out
    empty ones; and for each language's actions the form's line of each (to name it)."""
    found: dict[str, dict[str, Any]] = {}
    numbers: dict[str, list[int]] = {}
    for name, value in typed.items():
        parts = name.split(":")
        if len(parts) != 3 or parts[0] != PREFIX or not value.strip():
            continue
        language, text = parts[1], parts[2]
        if text == ACTIONS:
            items = lines(value)
            numbers[language] = [n for n, _ in items]
            found.setdefault(language, {})[text] = [line for _, line in items]
        else:
            found.setdefault(language, {})[text] = value
    return found, numbers


def update_translations_of_form(
    typed: Mapping[str, str], languages: Iterable[str]
) -> dict[str, dict[str, str] | None]:
    """An update's typed translations as `correct_update` takes them: each language shown
    with what was typed, or None (removed) where nothing was."""
    found, _ = translations_of_form(typed)
    return {language: found.get(language) for language in languages}


def field_of_problem(problem: Problem, numbers: Mapping[str, list[int]]) -> Problem:
    """A problem with `translations.de.actions.1` (or `translations.de.title`) as one of the
    form's fields ('tr:de:actions', 'line 3: …'); one not in a field, above the form."""
    parts = (problem.field or "").split(".")
    if len(parts) >= 3 and parts[2] in (*CASE_TEXTS, *UPDATE_TEXTS):
        language, text = parts[1], parts[2]
        reason = problem.reason
        if text == ACTIONS and len(parts) > 3 and parts[3].isdigit():
            index = int(parts[3])
            typed = numbers.get(language, [])
            reason = f"line {typed[index] if index < len(typed) else index + 1}: {reason}"
        return Problem(problem.where, field_name(language, text), reason)
    return Problem(problem.where, "", f"{problem.field}: {problem.reason}")
