"""Named cursors that only move forward (the watcher's position in the updates table)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.store.models import Cursor, utcnow
from notifier.store.upsert import insert_for

#: The watcher's cursor: the last update it matched (alerts for everything up to it are queued).
WATCH_CURSOR = "watch"


async def read_cursor(session: AsyncSession, name: str, *, lock: bool = False) -> int:
    """The cursor's position (0 if new). With `lock`, hold it until the transaction ends, so
    two watchers on PostgreSQL take turns (SQLite's BEGIN IMMEDIATE already does)."""
    await session.execute(
        insert_for(session, Cursor)
        .values(name=name, position=0, updated_at=utcnow())
        .on_conflict_do_nothing()
    )
    query = select(Cursor.position).where(Cursor.name == name)
    if lock:
        query = query.with_for_update()
    return int(await session.scalar(query) or 0)


async def move_cursor(session: AsyncSession, name: str, position: int) -> None:
    await session.execute(
        update(Cursor)
        .where(Cursor.name == name, Cursor.position < position)
        .values(position=position, updated_at=utcnow())
    )
