"""What a subscriber means by '/follow <text>': a country by code or name, a published case by
slug or any spelling, or several of those (the bot then asks), or nothing (with near misses).

Unpublished cases are never found, suggested or named here."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from notifier.bot.texts import every_case_label
from notifier.countries import country_label, fold, near_countries, resolve_country
from notifier.errors import NotFoundError
from notifier.store.cases import find_cases, near_cases
from notifier.store.chats import Target
from notifier.store.models import Case

SUGGESTIONS = 3


@dataclass(frozen=True)
class Resolution:
    """Targets `text` names (one: act on it; several: ask), else near misses to offer."""

    text: str
    targets: list[Target] = field(default_factory=list)
    suggestions: list[Target] = field(default_factory=list)

    @property
    def single(self) -> Target | None:
        return self.targets[0] if len(self.targets) == 1 else None


def as_country(text: str) -> str | None:
    try:
        return resolve_country(text)
    except NotFoundError:
        return None


async def published_cases(session: AsyncSession, text: str) -> list[Case]:
    """Published cases that `text` names (slug, name, any spelling, or all of its words)."""
    return await find_cases(session, text, published_only=True)


async def resolve_target(session: AsyncSession, text: str) -> Resolution:
    """Countries and published cases that `text` names; near misses if none."""
    text = " ".join(text.split())
    targets: list[Target] = []
    code = as_country(text)
    if code is not None:
        targets.append(Target.of_country(code))
    targets += [Target.of_case(c) for c in await published_cases(session, text)]
    if targets or not fold(text):
        return Resolution(text, targets)
    suggestions = [Target.of_country(c) for c in near_countries(text, limit=SUGGESTIONS)]
    suggestions += [
        Target.of_case(c)
        for c in await near_cases(session, text, published_only=True, limit=SUGGESTIONS)
    ]
    return Resolution(text, [], suggestions)


async def resolve_case_text(session: AsyncSession, text: str) -> Resolution:
    """Like `resolve_target`, for people only (`/case`)."""
    text = " ".join(text.split())
    found = await published_cases(session, text) if fold(text) else []
    if found:
        return Resolution(text, [Target.of_case(c) for c in found])
    near = await near_cases(session, text, published_only=True, limit=SUGGESTIONS)
    return Resolution(text, [], [Target.of_case(c) for c in near])


def button_label(target: Target) -> str:
    """'🌍 Kazakhstan', '👤 Bakhytzhan Kashkumbayev (Kazakhstan)' — plain text for a button,
    country names in the language spoken now."""
    if target.case is not None:
        return f"👤 {target.case.name} ({country_label(target.case.country)})"[:64]
    if target.country is not None:
        return f"🌍 {country_label(target.country)}"[:64]
    return every_case_label()
