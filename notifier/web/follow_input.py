"""What people type to follow something: "Kazakhstan, Kashkumbaev" — countries by code or name,
people by any spelling. Shared by the sign-up form and the preference centre."""

from __future__ import annotations

from sqlalchemy import select

from notifier.countries import country_name, resolve_country
from notifier.errors import NotFoundError
from notifier.store.cases import find_cases
from notifier.store.engine import Store
from notifier.store.models import Case, Scope
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


async def resolve_follow_text(store: Store, text: str) -> tuple[list[Follow], list[str]]:
    """The follows a comma-separated text names, and a problem for each item it cannot place."""
    follows: list[Follow] = []
    errors: list[str] = []
    items = [t.strip() for t in text.split(",") if t.strip()]
    if len(items) > MAX_FOLLOWS:
        return [], [f"At most {MAX_FOLLOWS} countries and people at a time."]
    async with store.read() as session:
        for item in items:
            try:
                follows.append((Scope.COUNTRY, resolve_country(item), None))
                continue
            except NotFoundError:
                pass
            cases = await find_cases(session, item, published_only=True)
            if len(cases) == 1:
                follows.append((Scope.CASE, None, cases[0]))
            elif cases:
                names = ", ".join(c.name for c in cases)
                errors.append(f"“{item}” could be {names}: please write the full name.")
            else:
                errors.append(f"We do not know a country or person called “{item}”.")
    return follows, errors
