"""What templates see: plain, immutable views of cases and updates (never ORM rows), with text
already split into paragraphs so templates never have to parse case text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from notifier.countries import country_name
from notifier.domain import Severity
from notifier.render.status_words import status_words
from notifier.store.models import Case, Update


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
        return f"{self.date:%d %B %Y}".lstrip("0")


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
    )


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
