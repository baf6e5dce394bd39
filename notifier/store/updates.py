"""Updates after they were entered: what went out about each, correcting one, withdrawing one.

A correction reaches every alert not yet sent and every digest not yet built; what was sent is
not sent again (a Telegram alert that went out in part is sent again whole). Withdrawing stops
at once the alerts not yet sent and the digests built but not yet sent that hold it (a message
already on the wire may still arrive), leaves the update out of digests built from then on and
out of case pages, and keeps the row, so importing the case file again neither brings it back
nor alerts anyone twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain import OutboxStatus, Severity, outbox_keys
from notifier.domain.translations import check_update_translations, merged
from notifier.domain.vocabulary import CLAIMABLE
from notifier.errors import ConflictError, NotFoundError
from notifier.store import outbox
from notifier.store.cases import UPDATE_FILE_FIELDS, check_update_fields, fingerprints
from notifier.store.models import BodyUpdate, Case, DigestCursor, OutboxMessage, Update, utcnow
from notifier.store.outbox import restart_partial_alerts


@dataclass
class UpdateState:
    """One update, its case, and its alerts by outbox status ("sent": 1200, …)."""

    update: Update
    case: Case
    alerts: dict[str, int] = field(default_factory=dict)

    @property
    def waiting(self) -> int:
        return sum(self.alerts.get(s.value, 0) for s in (*CLAIMABLE, OutboxStatus.SENDING))


async def _alert_counts(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    # By key ("alert:<id>", first in the outbox's unique index): the update's own rows only.
    # outbox.update_id has no index; filtering on it read the whole outbox (a second at 1M).
    # Each row is still read for its status (~2 ms per 1,000 alerts on SQLite): an index on
    # (key, status) would make it index-only (measured: 50 updates of 1,500 alerts, 96 -> 13 ms).
    keys = {outbox_keys.alert_key(i): i for i in ids}
    rows = await session.execute(
        select(OutboxMessage.key, OutboxMessage.status, func.count())
        .where(OutboxMessage.key.in_(keys))  # an alert's key: no other kind has one
        .group_by(OutboxMessage.key, OutboxMessage.status)
    )
    for key, status, n in rows:
        counts[keys[key]][status.value] = n
    return counts


async def alerts_made(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    """How many alerts were made for each update, whatever became of them. Counted from the
    outbox's unique index alone (key first), never reading a row: 50 updates holding 90,000
    alerts in ~20 ms on SQLite at 1,000,000 rows, where counting them by status reads every
    row (~150 ms). No index on status is added for it: delivery would update that index on
    every status change."""
    keys = {outbox_keys.alert_key(i): i for i in ids}
    counts = dict.fromkeys(ids, 0)
    rows = await session.execute(
        select(OutboxMessage.key, func.count())
        .where(OutboxMessage.key.in_(keys))
        .group_by(OutboxMessage.key)
    )
    for key, n in rows:
        counts[keys[key]] = n
    return counts


async def _latest(
    session: AsyncSession, case: Case | None, limit: int, before: int | None
) -> list[tuple[Update, Case]]:
    query = select(Update, Case).join(Case, Case.id == Update.case_id)
    if case is not None:
        query = query.where(Update.case_id == case.id)
    if before is not None:
        query = query.where(Update.id < before)
    rows = await session.execute(query.order_by(Update.id.desc()).limit(limit))
    return [(u, c) for u, c in rows]


async def list_updates(
    session: AsyncSession, *, case: Case | None = None, limit: int = 50, before: int | None = None
) -> list[UpdateState]:
    """The latest entered updates (of one case, or all), newest first, with their alerts;
    `before` an update's id: those entered before it (the next page)."""
    rows = await _latest(session, case, limit, before)
    counts = await _alert_counts(session, [u.id for u, _ in rows])
    return [UpdateState(u, c, counts[u.id]) for u, c in rows]


async def list_updates_made(
    session: AsyncSession, *, limit: int = 50, before: int | None = None
) -> list[tuple[UpdateState, int]]:
    """As `list_updates` across cases, with the number of alerts made for each (see
    `alerts_made`) instead of their statuses (each state's `alerts` left empty)."""
    rows = await _latest(session, None, limit, before)
    made = await alerts_made(session, [u.id for u, _ in rows])
    return [(UpdateState(u, c), made[u.id]) for u, c in rows]


async def get_update(session: AsyncSession, update_id: int) -> UpdateState:
    found = (
        await session.execute(
            select(Update, Case).join(Case, Case.id == Update.case_id).where(Update.id == update_id)
        )
    ).first()
    if found is None:
        raise NotFoundError(f"no update {update_id} (see `notifier updates list`)")
    update_, case = found
    return UpdateState(update_, case, (await _alert_counts(session, [update_id]))[update_id])


async def edit_update(
    session: AsyncSession,
    state: UpdateState,
    *,
    title: str | None = None,
    body: str | None = None,
    day: date | None = None,
    source_name: str | None = None,
    source_url: str | None = None,
    severity: Severity | None = None,
    translations: Mapping[str, Any] | None = None,
    where: str = "updates edit",
) -> list[str]:
    """Correct the fields given; the names of those that changed. `translations`: by language,
    its title and body (replacing what that language had), or None to remove it; languages
    not named keep theirs. Importing the update's case file again keeps the correction (unless
    the file itself changes that field since)."""
    if state.update.withdrawn_at is not None:
        raise ConflictError.single(where, "update", f"update {state.update.id} was withdrawn")
    link = check_update_fields(
        where, title=title, body=body, source_name=source_name, source_url=source_url
    )
    translated = None
    if translations is not None:
        final_body = body.strip() if body is not None else state.update.body
        changes = check_update_translations(where, translations, body=final_body)
        translated = merged(state.update.translations or {}, changes)
    wanted = {
        "title": title.strip() if title is not None else None,
        "body": body.strip() if body is not None else None,
        "event_date": day,
        "source_name": (source_name.strip() or None) if source_name is not None else None,
        "source_url": link,
        "severity": severity,
        "translations": translated,
    }
    update = state.update
    before = {name: getattr(update, name) for name in UPDATE_FILE_FIELDS}
    changed = []
    for name, value in wanted.items():
        if value is not None and getattr(update, name) != value:
            setattr(update, name, value)
            changed.append(name)
    if changed:
        if update.imported_fields is None and update.edited_at is None:
            # Not imported since the store began to keep what files gave, and never changed:
            # what it held is what its case file (if any) says, for a later import to compare.
            update.imported_fields = fingerprints(before)
        state.update.edited_at = utcnow()
        await restart_partial_alerts(session, [state.update.id])
        await session.flush()
    return changed


@dataclass
class Withdrawal:
    """What withdrawing stopped: alerts, and digests built but not yet sent that held it."""

    alerts: int = 0
    digests: int = 0


async def withdraw_update(
    session: AsyncSession, state: UpdateState, *, now: datetime | None = None
) -> Withdrawal:
    """Withdraw the update: its alerts not yet sent are stopped, and so are the digests built
    but not yet sent that hold it; their other news comes in the next digest (its cursor goes
    back), unless some of that digest went already. Withdrawing twice changes nothing more."""
    moment = now or utcnow()
    update_id = state.update.id
    if state.update.withdrawn_at is None:
        state.update.withdrawn_at = moment
    count = await outbox.withdraw_alerts(session, update_id)
    digests = await outbox.waiting_digests_holding(session, update_id)
    if digests:
        await outbox.withdraw_messages(session, [row_id for row_id, _, _ in digests])
        for key, body_id in {(key, body_id) for _, key, body_id in digests}:
            await _rewind(session, key, body_id)
    await session.flush()
    state.alerts = (await _alert_counts(session, [update_id]))[update_id]
    return Withdrawal(alerts=count, digests=len(digests))


async def _rewind(session: AsyncSession, outbox_key: str, body_id: int | None) -> None:
    """Move a digest's cursor back before the first update of a body that was stopped, so its
    other news comes in the next digest; not when some of that digest was sent (those readers
    would get it twice), nor when a later digest was built since."""
    went = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.key == outbox_key,
            OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.SENDING)),
        )
    )
    digest_key, period = outbox_keys.digest_of(outbox_key)
    cursor = await session.get(DigestCursor, digest_key)
    if went or cursor is None or cursor.period != period:
        return
    first = await session.scalar(
        select(func.min(BodyUpdate.update_id)).where(BodyUpdate.body_id == body_id)
    )
    if first is not None:
        cursor.through_update_id = min(cursor.through_update_id, first - 1)
