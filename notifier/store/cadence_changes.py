"""When a follow takes a digest cadence, its digests start where the news it already had ends.

Personal digests keep one cursor per subscriber, cadence and channel: the last update their
digest covered. A follow that moves to another cadence (the preference page, the bot's
/cadence, an import) would otherwise find either no cursor there, and its first digest would
cover everything since the follow was first made (months of news already sent), or a cursor
left from long ago, with the same result. So, whenever a flush changes a follow's cadence (or
adds a follow of a subscriber who had digests before), the new cadence's cursor is set:

* from daily or weekly: where the old cadence's digests had got to (news not yet in one of
  them comes in the first digest of the new cadence, nothing twice);
* from instant: where the watcher has got to (what it matched went as an alert; what it has
  not matched yet comes in the digest);
* a new follow, or an old cadence that never built a digest: no cursor (its first digest covers
  what came since the follow was made).

Only when no other follow of the subscriber already takes the new cadence on that channel:
then its cursor is live and stays. It runs before each flush of the store's own sessions
(StoreSession, in notifier.store.engine: not every SQLAlchemy session in the process), so
every way of changing a cadence through the store is covered; a bulk UPDATE of
`subscriptions.cadence` would bypass it (nothing does one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from notifier.domain import Cadence, Channel
from notifier.domain.outbox_keys import personal_digest
from notifier.store.cursors import WATCH_CURSOR
from notifier.store.models import Cursor, DigestCursor, Subscription, utcnow

DIGESTS = (Cadence.DAILY, Cadence.WEEKLY)


Change = tuple[int, Channel, Cadence | None, Cadence]


def _changes(session: Session) -> list[Change]:
    found: list[Change] = []
    for obj in session.dirty:
        if isinstance(obj, Subscription) and obj.subscriber_id is not None:
            history = inspect(obj).attrs.cadence.history
            if history.deleted and history.added and history.deleted[0] != history.added[0]:
                found.append((obj.subscriber_id, obj.channel, history.deleted[0], obj.cadence))
    for obj in session.new:
        if isinstance(obj, Subscription) and obj.cadence in DIGESTS:
            owner = obj.subscriber_id or (obj.subscriber.id if obj.subscriber else None)
            if owner is not None:  # a new subscriber has no cursors to mind
                found.append((owner, obj.channel or Channel.EMAIL, None, obj.cadence))
    return found


def _carry(session: Session, change: Change) -> None:
    subscriber_id, channel, old, new = change
    if new not in DIGESTS:
        return
    # The database still holds the state before this flush: a follow there already on the
    # new cadence (and channel) means its cursor is live.
    live = session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.channel == channel,
            Subscription.cadence == new,
        )
    )
    if live:
        return
    through: int | None = None
    if old is Cadence.INSTANT:
        watched = select(Cursor.position).where(Cursor.name == WATCH_CURSOR)
        through = int(session.scalar(watched) or 0)
    elif old in DIGESTS:
        through = session.scalar(
            select(DigestCursor.through_update_id).where(
                DigestCursor.digest_key == personal_digest(subscriber_id, old, channel)
            )
        )
    key = personal_digest(subscriber_id, new, channel)
    if through is None:
        session.execute(delete(DigestCursor).where(DigestCursor.digest_key == key))
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values: dict[str, Any] = {"period": "", "through_update_id": through, "updated_at": utcnow()}
    session.execute(
        dialect.insert(DigestCursor.__table__)
        .values(digest_key=key, **values)
        .on_conflict_do_update(index_elements=["digest_key"], set_=values)
    )


def _with_stale_cursor(session: Session, changes: list[Change]) -> list[Change]:
    """New follows matter only where their cadence has a cursor (left from before): one query
    for all of them, so importing thousands of follows does not cost a query each."""
    keys = {personal_digest(s, new, channel) for s, channel, old, new in changes if old is None}
    found: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        found.update(
            session.scalars(
                select(DigestCursor.digest_key).where(
                    DigestCursor.digest_key.in_(ordered[start : start + 500])
                )
            )
        )
    return [c for c in changes if c[2] is not None or personal_digest(c[0], c[3], c[1]) in found]


def carry_cursors(session: Session, flush_context: object = None, instances: object = None) -> None:
    """Set the cursors the follows changed in this session need (before they are flushed)."""
    changes = _changes(session)
    if not changes:
        return
    with session.no_autoflush:
        # Follows that changed cadence first; a follow added in the same flush must not then
        # delete the cursor one of them has just set.
        handled: set[str] = set()
        relevant = _with_stale_cursor(session, list(dict.fromkeys(changes)))
        for change in sorted(relevant, key=_new_last):
            subscriber_id, channel, old, new = change
            key = personal_digest(subscriber_id, new, channel)
            if old is None and key in handled:
                continue
            _carry(session, change)
            handled.add(key)


def _new_last(change: Change) -> bool:
    return change[2] is None
