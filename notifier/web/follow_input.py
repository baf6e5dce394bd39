"""What people type to follow something: "Kazakhstan, Kashkumbaev" — countries by code or name,
people by any spelling. Shared by the sign-up form and the preference centre."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from notifier.countries import country_name, near_countries, resolve_country
from notifier.domain import Scope
from notifier.errors import NotFoundError
from notifier.store.cases import find_cases, near_cases
from notifier.store.engine import Store
from notifier.store.models import Case
from notifier.store.preferences import Follow

#: Countries and people one form may name.
MAX_FOLLOWS = 20


async def known_names(store: Store) -> list[str]:
    """Names to suggest in a form (published cases and their countries)."""
    async with store.read() as session:
        rows = (
            await session.execute(
                select(Case.name, Case.country).where(Case.published.is_(True)).order_by(Case.name)
            )
        ).all()
    countries = sorted({country_name(c) for _, c in rows})
    return countries + [n for n, _ in rows]


@dataclass
class PlacedFollows:
    """What a comma-separated text names: the follows, a problem for each item it cannot place
    (with near misses), and those items as typed (to give back for correcting)."""

    follows: list[Follow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)


async def place_follow_text(store: Store, text: str) -> PlacedFollows:
    """Each item of "Kazakhstan, Kashkumbaev": a country (code or name), else a published case
    by any spelling. Near misses come from the same functions as the CLI's and the bot's."""
    placed = PlacedFollows()
    items = [t.strip() for t in text.split(",") if t.strip()]
    if len(items) > MAX_FOLLOWS:
        placed.problems.append(f"At most {MAX_FOLLOWS} countries and people at a time.")
        placed.unplaced = items
        return placed
    async with store.read() as session:
        for item in items:
            try:
                placed.follows.append((Scope.COUNTRY, resolve_country(item), None))
                continue
            except NotFoundError:
                pass
            cases = await find_cases(session, item, published_only=True)
            if len(cases) == 1:
                placed.follows.append((Scope.CASE, None, cases[0]))
                continue
            placed.unplaced.append(item)
            if cases:
                names = ", ".join(c.name for c in cases)
                placed.problems.append(f"“{item}” could be {names}: please write the full name.")
                continue
            near = [country_name(c) for c in near_countries(item)]
            near += [c.name for c in await near_cases(session, item, published_only=True)]
            hint = f" Did you mean {' or '.join(near)}?" if near else ""
            placed.problems.append(f"We do not know a country or person called “{item}”.{hint}")
    return placed


async def resolve_follow_text(store: Store, text: str) -> tuple[list[Follow], list[str]]:
    """The follows a comma-separated text names, and a problem for each item it cannot place."""
    placed = await place_follow_text(store, text)
    return placed.follows, placed.problems
