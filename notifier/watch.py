"""Watch: find updates past the cursor, match them, and move the cursor — in one transaction,
so a crash at any point leaves either both the outbox rows and the new cursor, or neither."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from notifier.faults import checkpoint
from notifier.match import enqueue_alerts
from notifier.store.cursors import WATCH_CURSOR, move_cursor, read_cursor
from notifier.store.engine import Store
from notifier.store.models import Case, Cursor, Update, utcnow

#: Updates matched per transaction.
BATCH = 100


@dataclass
class WatchReport:
    updates: int = 0
    alerts: int = 0
    cursor: int = 0


async def watch_once(store: Store, *, now: datetime | None = None) -> WatchReport:
    """Match every update entered since the last run. When nothing is new this costs one
    indexed query (the primary key range after the cursor)."""
    report = WatchReport()
    async with store.read() as session:
        # The idle case, every second: one indexed look past the cursor, no write lock.
        position = select(Cursor.position).where(Cursor.name == WATCH_CURSOR).scalar_subquery()
        pending = await session.scalar(
            select(Update.id).where(Update.id > func.coalesce(position, 0)).limit(1)
        )
    if pending is None:
        return report
    while True:
        async with store.transaction() as session:
            cursor = await read_cursor(session, WATCH_CURSOR, lock=True)
            rows = (
                await session.execute(
                    select(Update, Case)
                    .join(Case, Case.id == Update.case_id)
                    .where(Update.id > cursor)
                    .order_by(Update.id)
                    .limit(BATCH)
                )
            ).all()
            report.cursor = cursor
            if not rows:
                return report
            for update, case in rows:
                report.alerts += await enqueue_alerts(session, update, case, now=now or utcnow())
            report.updates += len(rows)
            report.cursor = rows[-1][0].id
            await move_cursor(session, WATCH_CURSOR, report.cursor)
            checkpoint("watch.before_commit")
        if len(rows) < BATCH:
            return report
