"""Updates as an administrator enters them: add one to a case, correct one, withdraw one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from notifier.domain import Severity
from notifier.store import updates as stored
from notifier.store.as_json import update_state_json
from notifier.store.cases import add_update as store_update
from notifier.store.cases import get_case
from notifier.store.engine import Store


def _severity(urgent: bool) -> Severity:
    return Severity.URGENT if urgent else Severity.NORMAL


@dataclass(frozen=True)
class UpdateAdded:
    id: int
    #: The case's slug.
    case: str
    day: date
    title: str
    #: False: the case had this update already (same day and title); nothing changed.
    created: bool


@dataclass(frozen=True)
class UpdateCorrected:
    #: The names of the fields that changed (none: it said so already).
    changed: list[str]
    #: Its alerts not yet sent, which carry the correction, and those sent, which are not sent
    #: again (as counted before the correction).
    waiting: int
    sent: int
    #: The update as `update_state_json` shows it, corrected.
    update: dict[str, Any]


@dataclass(frozen=True)
class UpdateWithdrawn:
    #: It had been withdrawn before: nothing more was stopped by this.
    already: bool
    #: Alerts, and digests built but not yet sent, that held it and are now stopped.
    alerts_stopped: int
    digests_stopped: int
    #: Its alerts that had gone out.
    sent: int
    #: The update as `update_state_json` shows it, withdrawn.
    update: dict[str, Any]


async def add_update(
    store: Store,
    case: str,
    *,
    day: date,
    title: str,
    body: str = "",
    source: str | None = None,
    url: str | None = None,
    urgent: bool = False,
) -> UpdateAdded:
    """Add news to a case (by slug or any spelling); the watcher sends it like any other.
    NotFoundError if there is no such case, InputError naming each bad field."""
    async with store.transaction() as session:
        found = await get_case(session, case)
        update, created = await store_update(
            session,
            found,
            day=day,
            title=title,
            body=body,
            source_name=source,
            source_url=url,
            severity=_severity(urgent),
        )
        return UpdateAdded(update.id, found.slug, update.event_date, update.title, created)


async def correct_update(
    store: Store,
    update_id: int,
    *,
    where: str,
    title: str | None = None,
    body: str | None = None,
    day: date | None = None,
    source: str | None = None,
    url: str | None = None,
    urgent: bool | None = None,
) -> UpdateCorrected:
    """Correct the fields given (None: leave it): alerts not yet sent and digests not yet built
    carry the correction. NotFoundError if there is no such update, ConflictError if it was
    withdrawn, InputError naming each bad field (under `where`)."""
    async with store.transaction() as session:
        state = await stored.get_update(session, update_id)
        changed = await stored.edit_update(
            session, state, title=title, body=body, day=day, source_name=source,
            source_url=url, severity=None if urgent is None else _severity(urgent), where=where,
        )  # fmt: skip
        return UpdateCorrected(
            changed, state.waiting, state.alerts.get("sent", 0), update_state_json(state)
        )


async def withdraw_update(store: Store, update_id: int) -> UpdateWithdrawn:
    """Withdraw an update: alerts and digests not yet sent that hold it stop now; digests and
    case pages leave it out from then on. Withdrawing twice stops nothing more."""
    async with store.transaction() as session:
        state = await stored.get_update(session, update_id)
        already = state.update.withdrawn_at is not None
        stopped = await stored.withdraw_update(session, state)
        return UpdateWithdrawn(
            already=already,
            alerts_stopped=stopped.alerts,
            digests_stopped=stopped.digests,
            sent=state.alerts.get("sent", 0),
            update=update_state_json(state),
        )
