"""INSERT … ON CONFLICT for the two databases notifier runs on."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.store.models import Base

Upsert = postgresql.Insert | sqlite.Insert


def insert_for(session: AsyncSession, into: type[Base] | Table) -> Upsert:
    """The dialect's INSERT into a model's table (it has on_conflict_do_nothing and
    on_conflict_do_update, with the same arguments on both)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(into)
    return sqlite.insert(into)
