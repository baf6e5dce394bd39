"""Updates as an administrator enters them: add one to a case, correct one, withdraw one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from notifier.app.access import require
from notifier.domain import Severity
from notifier.domain.actors import Actor, Area
from notifier.store import audit
from notifier.store import updates as stored
from notifier.store.as_json import update_state_json
from notifier.store.cases import add_update as store_update
from notifier.store.cases import get_case
from notifier.store.engine import Store
from notifier.store.models import Update


def _severity(urgent: bool) -> Severity:
    return Severity.URGENT if urgent else Severity.NORMAL


def _fields(update: Update) -> dict[str, Any]:
    """An update's fields as the audit log keeps them."""
    return {
        "date": update.event_date.isoformat(),
        "title": update.title,
        "body": update.body,
        "source": update.source_name,
        "url": update.source_url,
        "urgent": update.severity is Severity.URGENT,
    }


def _target(update: Update, case: str) -> str:
    return f"update {update.id} ({case})"


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
    by: Actor,
    day: date,
    title: str,
    body: str = "",
    source: str | None = None,
    url: str | None = None,
    urgent: bool = False,
) -> UpdateAdded:
    """Add news to a case (by slug or any spelling); the watcher sends it like any other.
    NotFoundError if there is no such case, InputError naming each bad field."""
    require(by, Area.UPDATES, write=True)
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
        # The case had it already: nothing was made, and nothing is said to have been.
        audit.record(
            session,
            by,
            "update.add",
            _target(update, found.slug),
            after=_fields(update) if created else None,
        )
        return UpdateAdded(update.id, found.slug, update.event_date, update.title, created)


async def correct_update(
    store: Store,
    update_id: int,
    *,
    by: Actor,
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
    require(by, Area.UPDATES, write=True)
    async with store.transaction() as session:
        state = await stored.get_update(session, update_id)
        before = _fields(state.update)
        changed = await stored.edit_update(
            session, state, title=title, body=body, day=day, source_name=source,
            source_url=url, severity=None if urgent is None else _severity(urgent), where=where,
        )  # fmt: skip
        was, now = audit.changes(before, _fields(state.update))
        audit.record(
            session, by, "update.correct", _target(state.update, state.case.slug),
            before=was, after=now,
        )  # fmt: skip
        return UpdateCorrected(
            changed, state.waiting, state.alerts.get("sent", 0), update_state_json(state)
        )


async def withdraw_update(store: Store, update_id: int, *, by: Actor) -> UpdateWithdrawn:
    """Withdraw an update: alerts and digests not yet sent that hold it stop now; digests and
    case pages leave it out from then on. Withdrawing twice stops nothing more."""
    require(by, Area.UPDATES, write=True)
    async with store.transaction() as session:
        state = await stored.get_update(session, update_id)
        already = state.update.withdrawn_at is not None
        stopped = await stored.withdraw_update(session, state)
        audit.record(
            session,
            by,
            "update.withdraw",
            _target(state.update, state.case.slug),
            before=None if already else {"withdrawn": False},
            after={
                "withdrawn": True,
                "alerts_stopped": stopped.alerts,
                "digests_stopped": stopped.digests,
            },
        )
        return UpdateWithdrawn(
            already=already,
            alerts_stopped=stopped.alerts,
            digests_stopped=stopped.digests,
            sent=state.alerts.get("sent", 0),
            update=update_state_json(state),
        )
