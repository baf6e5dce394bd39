"""What templates see: plain, immutable views of cases and updates (never ORM rows), with text
already split into paragraphs so templates never have to parse case text. The store makes
them from its rows (notifier.store.views); render turns them into messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from notifier import locales
from notifier.countries import country_name

T = TypeVar("T")


def paragraphs(text: str | None) -> tuple[str, ...]:
    """Blank-line separated paragraphs. Line breaks inside a paragraph are kept ("Dear Lord,"
    on a line of its own); runs of spaces within a line are not."""
    if not text:
        return ()
    blocks = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        kept = [" ".join(line.split()) for line in block.split("\n")]
        joined = "\n".join(line for line in kept if line)
        if joined:
            blocks.append(joined)
    return tuple(blocks)


def lines(text: str | None) -> tuple[str, ...]:
    return tuple(line.strip() for line in (text or "").strip().splitlines() if line.strip())


def translation_for(translations: Sequence[tuple[str, T]], language: str) -> T | None:
    """The translation into `language` ('de'): the one of that tag, else of a regional form of
    the language ('de-AT'), else None."""
    exact = next((t for tag, t in translations if tag == language), None)
    if exact is not None:
        return exact
    return next((t for tag, t in translations if locales.primary_language(tag) == language), None)


@dataclass(frozen=True)
class ActionView:
    kind: str
    text: str
    address_lines: tuple[str, ...]


@dataclass(frozen=True)
class UpdateText:
    """An update's title and paragraphs in one language; None: not translated."""

    title: str | None = None
    paragraphs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UpdateView:
    id: int
    date: date
    title: str
    paragraphs: tuple[str, ...]
    source_name: str | None
    source_url: str | None
    urgent: bool
    #: The title and text in other languages, by language tag.
    translations: tuple[tuple[str, UpdateText], ...] = ()
    #: What is shown in the original for want of a translation ("title", "body"): empty in the
    #: original's language, and until `in_language` picks one.
    untranslated: frozenset[str] = frozenset()

    @property
    def date_label(self) -> str:
        """The day, as readers of the language spoken now write it."""
        return locales.day_label(self.date)

    def in_language(self, language: str) -> UpdateView:
        """The update as a reader of `language` (a shipped language: 'de') gets it: each text
        in their language where it is translated, else the original, named in `untranslated`."""
        if language == locales.DEFAULT:
            return self
        found = translation_for(self.translations, language) or UpdateText()
        missing = {"title"} if found.title is None else set()
        if found.paragraphs is None and self.paragraphs:
            missing.add("body")
        return replace(
            self,
            title=found.title if found.title is not None else self.title,
            paragraphs=found.paragraphs if found.paragraphs is not None else self.paragraphs,
            untranslated=frozenset(missing),
        )


@dataclass(frozen=True)
class CaseText:
    """A case's texts in one language; None: not translated. `actions`: one per action."""

    summary: tuple[str, ...] | None = None
    prayer: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    letter_guidance: str | None = None


@dataclass(frozen=True)
class CaseView:
    id: int
    slug: str
    name: str
    role: str
    country: str
    country_name: str
    status: str
    summary: tuple[str, ...]
    letter_address: tuple[str, ...]
    letter_guidance: str
    actions: tuple[ActionView, ...]
    prayer: tuple[str, ...]
    #: The summary, prayer, actions' texts and letter guidance in other languages, by tag.
    translations: tuple[tuple[str, CaseText], ...] = ()
    #: What is shown in the original for want of a translation ("summary", "prayer",
    #: "actions", "letter_guidance"): empty in the original's language, and until
    #: `in_language` picks one.
    untranslated: frozenset[str] = frozenset()

    def in_language(self, language: str) -> CaseView:
        """The case as a reader of `language` (a shipped language: 'de') gets it: each text in
        their language where it is translated, else the original, named in `untranslated`."""
        if language == locales.DEFAULT:
            return self
        found = translation_for(self.translations, language) or CaseText()
        missing = set()
        for name in ("summary", "prayer", "letter_guidance"):
            if getattr(found, name) is None and getattr(self, name):
                missing.add(name)
        actions = self.actions
        if found.actions is not None and len(found.actions) == len(self.actions):
            actions = tuple(
                replace(action, text=text)
                for action, text in zip(self.actions, found.actions, strict=True)
            )
        elif self.actions:
            missing.add("actions")
        return replace(
            self,
            summary=self.summary if found.summary is None else found.summary,
            prayer=self.prayer if found.prayer is None else found.prayer,
            letter_guidance=(
                self.letter_guidance if found.letter_guidance is None else found.letter_guidance
            ),
            actions=actions,
            untranslated=frozenset(missing),
        )

    @property
    def letter_address_in_actions(self) -> bool:
        """Whether an action already shows the letter address; if not, faces list it apart
        ("Write a letter to:"), so it is never missing and never said twice."""
        return any(a.address_lines == self.letter_address for a in self.actions)

    @property
    def title(self) -> str:
        """'Pastor Bakhytzhan Kashkumbayev'."""
        return f"{self.role.capitalize()} {self.name}" if self.role else self.name


@dataclass(frozen=True)
class CaseSection:
    case: CaseView
    updates: tuple[UpdateView, ...]


@dataclass(frozen=True)
class CountrySection:
    code: str
    name: str
    cases: tuple[CaseSection, ...]


def group_updates(items: Iterable[tuple[CaseView, UpdateView]]) -> tuple[CountrySection, ...]:
    """Country → case → updates (oldest first), countries and cases by name."""
    by_case: dict[int, tuple[CaseView, list[UpdateView]]] = {}
    for case, update in items:
        by_case.setdefault(case.id, (case, []))[1].append(update)
    by_country: dict[str, list[CaseSection]] = {}
    for case, updates in by_case.values():
        section = CaseSection(case, tuple(sorted(updates, key=lambda u: (u.date, u.id))))
        by_country.setdefault(case.country, []).append(section)
    return tuple(
        CountrySection(
            code=code,
            name=country_name(code),
            cases=tuple(sorted(sections, key=lambda s: s.case.name)),
        )
        for code, sections in sorted(by_country.items(), key=lambda kv: country_name(kv[0]))
    )


def sections_in_language(
    sections: Sequence[CountrySection], language: str
) -> tuple[CountrySection, ...]:
    """A digest's sections as a reader of `language` gets them (see `CaseView.in_language`)."""
    if language == locales.DEFAULT:
        return tuple(sections)
    return tuple(
        replace(
            country,
            cases=tuple(
                CaseSection(
                    section.case.in_language(language),
                    tuple(u.in_language(language) for u in section.updates),
                )
                for section in country.cases
            ),
        )
        for country in sections
    )


def count_updates(sections: Sequence[CountrySection]) -> int:
    return sum(len(c.updates) for s in sections for c in s.cases)
