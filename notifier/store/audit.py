"""The audit log: every write an administrator makes, from the console, the API or the CLI,
written in the same transaction as the write itself (so a write that rolls back leaves no
entry, and none is written without its entry)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.domain.actors import Actor
from notifier.store.models import AuditEntry

#: Longest text kept of one field's value in a summary (a case's summary can be pages long).
VALUE_MOST = 300


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > VALUE_MOST:
        return value[: VALUE_MOST - 1] + "…"
    if isinstance(value, Mapping):
        return {str(k): _short(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_short(v) for v in value]
    return value


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ between `before` and `after` (each side's value)."""
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def record(
    session: AsyncSession,
    by: Actor,
    action: str,
    target: str = "",
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Note a write by `by` in the session's transaction. `action` is `area.verb`; `before` and
    `after` are what changed (long text shortened), or what was removed or made."""
    summary: dict[str, Any] = {}
    if before:
        summary["before"] = _short(dict(before))
    if after:
        summary["after"] = _short(dict(after))
    entry = AuditEntry(actor=by.label, action=action, target=target[:400], summary=summary)
    session.add(entry)
    return entry


async def entries(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest entries first (`before_id` pages on: entries older than that one)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(await session.scalars(query))
