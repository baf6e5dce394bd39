"""What goes into a digest: the updates a set of follows matched in a range, grouped
country → case → updates. Reads the store; writes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain.views import CaseView, CountrySection, UpdateView, group_updates
from notifier.store.models import Case, Update
from notifier.store.views import case_view, update_view


@dataclass(frozen=True)
class Candidate:
    """An announced update of a published case, ready for any digest that matches it."""

    id: int
    entered_at: datetime
    country: str
    case_id: int
    case: CaseView
    update: UpdateView
    #: The follow targets this update reaches: "all", "country:KZ", "case:12".
    keys: frozenset[str]

    def matches(self, targets: frozenset[str]) -> bool:
        return not self.keys.isdisjoint(targets)


async def latest_update_id(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(Update.id))) or 0)


async def load_candidates(
    session: AsyncSession,
    *,
    upper: int,
    after_id: int | None,
    entered_since: datetime | None,
    include_history: bool = False,
) -> list[Candidate]:
    """Updates with id in (after_id, upper], or entered since `entered_since` (for a first
    digest, which covers what came since the list or subscription began). History (updates
    not announced) only when asked, for previews."""
    ranges: list[ColumnElement[bool]] = []
    if after_id is not None:
        ranges.append(Update.id > after_id)
    if entered_since is not None:
        ranges.append(Update.entered_at >= entered_since)
    if not ranges:
        return []
    rows = await session.execute(
        select(Update, Case)
        .join(Case, Case.id == Update.case_id)
        .where(
            and_(
                Update.id <= upper,
                Update.withdrawn_at.is_(None),
                Case.published.is_(True),
                true() if include_history else Update.announce.is_(True),
            ),
            or_(*ranges),
        )
        .order_by(Update.id)
    )
    views: dict[int, CaseView] = {}
    candidates = []
    for update, case in rows:
        view = views.get(case.id)
        if view is None:
            view = views[case.id] = case_view(case)
        candidates.append(
            Candidate(
                id=update.id,
                entered_at=update.entered_at,
                country=case.country,
                case_id=case.id,
                case=view,
                update=update_view(update),
                keys=frozenset(("all", f"country:{case.country}", f"case:{case.id}")),
            )
        )
    return candidates


def select_updates(
    candidates: Iterable[Candidate],
    targets: frozenset[str],
    *,
    after_id: int | None,
    entered_since: datetime | None,
) -> list[Candidate]:
    """The candidates one digest holds: matching its follows, after its cursor (or, for a
    first digest, entered since it began)."""
    chosen = []
    for candidate in candidates:
        if after_id is not None:
            if candidate.id <= after_id:
                continue
        elif entered_since is None or candidate.entered_at < entered_since:
            continue
        if candidate.matches(targets):
            chosen.append(candidate)
    return chosen


class CandidateIndex:
    """Candidates by follow target, so choosing a recipient's updates looks at the few that
    match their follows instead of testing every candidate (100,000 digests × 50 updates)."""

    def __init__(self, candidates: Iterable[Candidate]) -> None:
        self._by_key: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            for key in candidate.keys:
                self._by_key.setdefault(key, []).append(candidate)

    def select(
        self,
        targets: Iterable[str],
        *,
        after_id: int | None,
        entered_since: datetime | None,
    ) -> list[Candidate]:
        """Same result as `select_updates`, in id order."""
        chosen: dict[int, Candidate] = {}
        for target in targets:
            for candidate in self._by_key.get(target, ()):
                if after_id is not None:
                    if candidate.id <= after_id:
                        continue
                elif entered_since is None or candidate.entered_at < entered_since:
                    continue
                chosen[candidate.id] = candidate
        return [chosen[i] for i in sorted(chosen)]


def sections_of(chosen: Sequence[Candidate]) -> tuple[CountrySection, ...]:
    return group_updates((c.case, c.update) for c in chosen)
