"""What a case file says about a case and its news, checked: the case's name, country, status,
actions, letter address and prayer, and each update. Read from YAML by notifier.ingest, written
to the store by notifier.store.cases; the format is documented in docs/case-files.md."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from annotated_types import MinLen
from pydantic import BaseModel, ConfigDict, Field, field_validator

from notifier import limits
from notifier.countries import resolve_country
from notifier.domain.text_fields import (
    ActionText,
    Address,
    Body,
    Country,
    Guidance,
    Link,
    Name,
    Prayer,
    Role,
    Slug,
    SourceName,
    Summary,
    Title,
    UpdateKey,
)
from notifier.domain.translations import (
    CaseTranslations,
    Loc,
    UpdateTranslations,
    case_translation_problems,
    update_translation_problems,
)
from notifier.domain.update_keys import update_key
from notifier.domain.vocabulary import ActionKind, CaseStatus, Severity
from notifier.errors import NotFoundError

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
#: A text that must not be empty (after white space is stripped).
Filled = MinLen(1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SourceSpec(_Strict):
    name: Annotated[SourceName, Filled]
    url: Link | None = None


class ActionSpec(_Strict):
    kind: ActionKind
    text: Annotated[ActionText, Filled]
    address: Address | None = None


class LetterSpec(_Strict):
    address: Annotated[Address, Filled]
    guidance: Guidance | None = None


class UpdateSpec(_Strict):
    #: Stable within the case; default: the date and the title, folded.
    key: UpdateKey | None = None
    date: date
    title: Title
    body: Body = ""
    source: SourceSpec | None = None
    severity: Severity = Severity.NORMAL
    #: The title and body in other languages: {"de": {"title": …, "body": …}}.
    translations: UpdateTranslations = {}

    def stable_key(self) -> str:
        return self.key or update_key(self.date, self.title)


class CaseSpec(_Strict):
    slug: Slug
    name: Annotated[Name, Filled]
    spellings: Annotated[list[Annotated[Name, Filled]], Field(max_length=limits.SPELLINGS)] = []
    country: Country
    role: Role = ""
    status: CaseStatus
    summary: Summary = ""
    letter: LetterSpec | None = None
    actions: Annotated[list[ActionSpec], Field(max_length=limits.ACTIONS)] = []
    prayer: Prayer = ""
    sources: Annotated[list[SourceSpec], Field(max_length=limits.SOURCES)] = []
    published: bool = True
    #: The summary, prayer, actions' texts and letter guidance in other languages.
    translations: CaseTranslations = {}
    updates: list[UpdateSpec] = []

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(
                "use lower-case letters, digits and single hyphens, e.g. 'anna-ivanova'"
            )
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        try:
            return resolve_country(value)
        except NotFoundError as exc:
            raise ValueError(str(exc)) from None


def translation_problems(spec: CaseSpec) -> list[tuple[Loc, str]]:
    """What the translations of a case and of its updates say that the originals do not (a
    text translated that the case has not; not one text per action), each with its place in
    the case (`("translations", "de", "actions")`) and why."""
    found = [
        (("translations", *loc), reason)
        for loc, reason in case_translation_problems(
            spec.translations,
            summary=spec.summary,
            prayer=spec.prayer,
            actions=len(spec.actions),
            letter_guidance=spec.letter.guidance if spec.letter else None,
        )
    ]
    for index, update in enumerate(spec.updates):
        found += [
            (("updates", index, "translations", *loc), reason)
            for loc, reason in update_translation_problems(update.translations, body=update.body)
        ]
    return found
