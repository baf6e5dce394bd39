"""The outbox: every change of a message's state is written here.

    pending ──claim──▶ sending ──mark_sent──▶ sent
       ▲                  │ ──mark_retry──▶ retry ──(due again)──▶ sending
       │                  │ ──mark_final──▶ failed | suppressed
       └──release / give_back (a worker stopped or died)
    pending | retry ──withdraw_alerts / withdraw_messages / stop_moved_chat──▶ suppressed
    failed | retry | suppressed ──retry (an admin)──▶ pending

Who moves them: delivery (claim, mark_*, release), workers' heartbeats (give_back), an
admin (retry, prune, withdraw_*), the bot (move_chat), bounces (note_bounce), erasure
(erase_for). Rows are added by matching, digests and sign-ups (each with its own key, see
notifier.domain.outbox_keys).

A lease that expires (the worker died) makes the message claimable again: at most the
in-flight few can be sent twice, never lost. On PostgreSQL claims use FOR UPDATE SKIP LOCKED,
so any number of workers share one outbox; on SQLite BEGIN IMMEDIATE serialises them. Each
claim also names its worker: when a worker dies, the others give its messages back at once,
and the lease is only the last resort."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain import Channel, MessageKind, OutboxStatus
from notifier.domain.vocabulary import CLAIMABLE, FINISHED, RETRYABLE
from notifier.store.models import Body, BodyUpdate, OutboxMessage, status_in

#: Claimed first: a confirmation someone is waiting for, then news as it happens; digests last
#: (a weekly digest to thousands must not hold back an alert or a sign-up).
PRIORITY = case(
    {MessageKind.CONFIRM.value: 0, MessageKind.ALERT.value: 1},
    value=OutboxMessage.kind,
    else_=2,
)


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    #: When the current delivery effort began (creation, or the last `outbox retry`).
    queued_at: datetime


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(status_in(*CLAIMABLE), OutboxMessage.next_attempt_at <= now),
        and_(status_in(OutboxStatus.SENDING), OutboxMessage.lease_until < now),
    )


async def anything_due(
    session: AsyncSession, *, now: datetime, channels: Sequence[str] | None = None
) -> bool:
    """Whether any message is due: a cheap indexed check before taking locks to claim."""
    pick = select(OutboxMessage.id).where(_due(now)).limit(1)
    if channels is not None:
        pick = pick.where(OutboxMessage.channel.in_(channels))
    return (await session.scalar(pick)) is not None


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    channels: Sequence[str] | None = None,
    worker: int | None = None,
) -> list[Claimed]:
    """Take up to `limit` due messages (by PRIORITY, then oldest first) and lease them to the
    caller (`worker`: whose claim it is, so they come back at once if it dies)."""
    pick = (
        select(OutboxMessage.id).where(_due(now)).order_by(PRIORITY, OutboxMessage.id).limit(limit)
    )
    if channels is not None:
        pick = pick.where(OutboxMessage.channel.in_(channels))
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(pick.scalar_subquery()))
        .values(
            status=OutboxStatus.SENDING,
            lease_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
            claimed_by=worker,
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.attempts,
            func.coalesce(OutboxMessage.queued_at, OutboxMessage.created_at),
        )
    )
    rows = (await session.execute(stmt)).all()
    return sorted((Claimed(i, a, c) for i, a, c in rows), key=lambda c: c.id)


def backoff(attempts: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: exponential from `base`, capped, with full jitter in
    the upper half so many failed messages do not all come back at once."""
    ceiling = min(cap, base * float(2 ** max(0, attempts - 1)))
    jitter: float = (rng or random).random()
    return ceiling / 2 + jitter * ceiling / 2


def _held(worker: int | None) -> ColumnElement[bool]:
    """Claimed, and (given a worker) by that worker."""
    held = OutboxMessage.status == OutboxStatus.SENDING
    return held if worker is None else and_(held, OutboxMessage.claimed_by == worker)


#: Records messages sent (parameters: `ids`, `now`). Sent is sent, whoever holds the message
#: now: one taken back from a worker thought dead (or waiting to go again) must not go twice
#: because its first sender was slow to say so. Built once: this runs hundreds of times a
#: second, and building the statement cost more than running it.
SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(bindparam("ids", expanding=True)),
        OutboxMessage.status.in_((OutboxStatus.SENDING, *CLAIMABLE)),
    )
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("now", type_=OutboxMessage.sent_at.type),
        lease_until=None,
        last_error=None,
        claimed_by=None,
    )
)


def sent_params(ids: Sequence[int], *, now: datetime) -> dict[str, object]:
    return {"ids": list(ids), "now": now}


async def mark_sent(session: AsyncSession, ids: Sequence[int], *, now: datetime) -> None:
    if ids:
        await session.execute(SENT, sent_params(ids, now=now))


async def mark_final(
    session: AsyncSession,
    ids: Sequence[int],
    status: OutboxStatus,
    error: str,
    *,
    worker: int | None = None,
) -> None:
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), _held(worker))
            .values(status=status, lease_until=None, last_error=error[:2000], claimed_by=None)
        )


async def mark_retry(
    session: AsyncSession,
    outbox_id: int,
    *,
    at: datetime,
    error: str,
    worker: int | None = None,
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, _held(worker))
        .values(
            status=OutboxStatus.RETRY,
            next_attempt_at=at,
            lease_until=None,
            last_error=error[:2000],
            claimed_by=None,
        )
    )


async def release(session: AsyncSession, ids: Sequence[int], *, worker: int | None = None) -> None:
    """Give claimed messages back untouched (a clean stop before they were sent)."""
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), _held(worker))
            .values(
                status=OutboxStatus.PENDING,
                lease_until=None,
                attempts=OutboxMessage.attempts - 1,
                claimed_by=None,
            )
        )


async def counts(session: AsyncSession) -> list[tuple[str, str, int]]:
    rows = await session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.channel, OutboxMessage.status)
        .order_by(OutboxMessage.channel, OutboxMessage.status)
    )
    return [(c.value, s.value, n) for c, s, n in rows]


async def retry(
    session: AsyncSession, *, ids: Sequence[int] = (), failed: bool = False, now: datetime
) -> int:
    """Send these messages (or every failed one) again: pending now, a fresh delivery effort
    (the max-age clock restarts), attempts and the last error kept as history."""
    condition: list[ColumnElement[bool]] = []
    if ids:
        condition.append(OutboxMessage.id.in_(ids))
    if failed:
        condition.append(OutboxMessage.status == OutboxStatus.FAILED)
    if not condition:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(
            or_(*condition),
            OutboxMessage.status.in_(RETRYABLE),
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, queued_at=now, lease_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def prune(session: AsyncSession, *, before: datetime) -> int:
    """Delete finished messages created before `before` (the outbox is a log, not an archive:
    kept forever it slows every match). Pending and retrying messages are never touched, and
    bodies no message points to any more go too."""
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_(FINISHED), OutboxMessage.created_at < before
        )
    )
    used = select(OutboxMessage.body_id).where(OutboxMessage.body_id.is_not(None))
    await session.execute(delete(Body).where(Body.id.not_in(used), Body.created_at < before))
    # Their links too: SQLite may give a deleted body's id to a new one.
    await session.execute(delete(BodyUpdate).where(BodyUpdate.body_id.not_in(select(Body.id))))
    return int(getattr(result, "rowcount", 0) or 0)


async def restart_partial_alerts(session: AsyncSession, update_ids: Sequence[int]) -> None:
    """The update's text changed: a Telegram alert that went out in part and waits to go on
    starts again whole (the new text may split differently; the reader should have it all)."""
    if update_ids:
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.update_id.in_(update_ids),
                OutboxMessage.status.in_(CLAIMABLE),
                OutboxMessage.parts_sent > 0,
            )
            .values(parts_sent=0)
        )


async def give_back(
    session: AsyncSession, worker_ids: Sequence[int], *, now: datetime | None = None
) -> int:
    """What these workers held goes back to pending (due `now`; unchanged without it): they
    stopped, or died. Returns how many."""
    values: dict[str, object] = {
        "status": OutboxStatus.PENDING,
        "lease_until": None,
        "claimed_by": None,
    }
    if now is not None:
        values["next_attempt_at"] = now
    result = await session.execute(
        update(OutboxMessage)
        .where(status_in(OutboxStatus.SENDING), OutboxMessage.claimed_by.in_(worker_ids))
        .values(**values)
    )
    return int(getattr(result, "rowcount", 0) or 0)


#: What stops a waiting message when its news is withdrawn.
_WITHDRAWN = {
    "status": OutboxStatus.SUPPRESSED,
    "last_error": "update withdrawn",
    "lease_until": None,
}


async def withdraw_alerts(session: AsyncSession, update_id: int) -> int:
    """The update's alerts not yet sent are stopped; returns how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.update_id == update_id,
            OutboxMessage.kind == MessageKind.ALERT,
            OutboxMessage.status.in_(CLAIMABLE),
        )
        .values(**_WITHDRAWN)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def waiting_digests_holding(
    session: AsyncSession, update_id: int
) -> list[tuple[int, str, int | None]]:
    """Digests built but not yet sent whose body holds the update: (id, key, body id)."""
    holders = select(BodyUpdate.body_id).where(BodyUpdate.update_id == update_id)
    rows = await session.execute(
        select(OutboxMessage.id, OutboxMessage.key, OutboxMessage.body_id).where(
            OutboxMessage.kind == MessageKind.DIGEST,
            status_in(*CLAIMABLE),  # through ix_outbox_due: the few waiting rows
            OutboxMessage.body_id.in_(holders),
        )
    )
    return [(i, k, b) for i, k, b in rows]


async def withdraw_messages(session: AsyncSession, ids: Sequence[int]) -> None:
    """These waiting messages are stopped: their news was withdrawn."""
    if ids:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**_WITHDRAWN)
        )


async def move_chat(session: AsyncSession, old: str, new: str) -> None:
    """Messages waiting for a Telegram group under its old recipient key go to the new one; one
    the new key has already is stopped instead."""
    taken = select(OutboxMessage.key).where(
        OutboxMessage.recipient == new, OutboxMessage.channel == Channel.TELEGRAM
    )
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.recipient == old,
            OutboxMessage.status.in_(CLAIMABLE),
            OutboxMessage.key.in_(taken),
        )
        .values(status=OutboxStatus.SUPPRESSED, last_error="the group moved; sent to its new id")
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient == old, OutboxMessage.status.in_(CLAIMABLE))
        .values(recipient=new)
        .execution_options(synchronize_session=False)
    )


async def note_parts_sent(session: AsyncSession, outbox_id: int, parts: int) -> None:
    """A message in parts failed midway: how many parts went (a retry sends the rest)."""
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(parts_sent=parts)
    )


#: How `last_error` of a message that bounced after it was sent begins (the bounces page).
BOUNCED_AFTER_SENT = "bounced after it was sent: "


async def note_bounce(session: AsyncSession, outbox_id: int, why: str) -> None:
    """A message that was sent bounced later: say so on it (its status stays sent)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(last_error=f"{BOUNCED_AFTER_SENT}{why}"[:1000])
    )


async def erase_for(session: AsyncSession, subscriber_id: int) -> None:
    """Every message of an erased subscriber goes, sent or not."""
    await session.execute(delete(OutboxMessage).where(OutboxMessage.subscriber_id == subscriber_id))
