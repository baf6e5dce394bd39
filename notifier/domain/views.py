"""What templates see: plain, immutable views of cases and updates (never ORM rows), with text
already split into paragraphs so templates never have to parse case text. The store makes
them from its rows (notifier.store.views); render turns them into messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from notifier import locales
from notifier.countries import country_name


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


@dataclass(frozen=True)
class ActionView:
    kind: str
    text: str
    address_lines: tuple[str, ...]


@dataclass(frozen=True)
class UpdateView:
    id: int
    date: date
    title: str
    paragraphs: tuple[str, ...]
    source_name: str | None
    source_url: str | None
    urgent: bool

    @property
    def date_label(self) -> str:
        """The day, as readers of the language spoken now write it."""
        return locales.day_label(self.date)


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


def count_updates(sections: Sequence[CountrySection]) -> int:
    return sum(len(c.updates) for s in sections for c in s.cases)
