"""The audit log as an owner reads it: every write, newest first, by whom, what, to what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifier import limits
from notifier.app.access import require
from notifier.domain.actors import Actor, Area
from notifier.errors import InputError
from notifier.store import audit as stored
from notifier.store.engine import Store


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any]
    after: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "before": self.before,
            "after": self.after,
        }

    def change_summary(self, most: int = 80) -> str:
        """'title: "Old" → "New"; urgent: False → True', cut to `most` characters."""
        keys = list(dict.fromkeys([*self.before, *self.after]))
        parts = []
        for key in keys:
            if key in self.before and key in self.after:
                parts.append(f"{key}: {self.before[key]!r} → {self.after[key]!r}")
            elif key in self.after:
                parts.append(f"{key}={self.after[key]!r}")
            else:
                parts.append(f"-{key}={self.before[key]!r}")
        text = "; ".join(parts)
        return text if len(text) <= most else text[: most - 1] + "…"


async def audit_entries(
    store: Store,
    by: Actor,
    *,
    since: datetime | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditRow]:
    """The newest entries first (owners only: ForbiddenError for anyone else): from `since`
    on, by one `actor` label, older than entry `before_id` (to page on)."""
    require(by, Area.AUDIT)
    if not 1 <= limit <= limits.AUDIT_PAGE:
        raise InputError.single("audit", "limit", f"from 1 to {limits.AUDIT_PAGE}, not {limit}")
    if actor is not None and ("\x00" in actor or len(actor) > 500):
        raise InputError.single("audit", "actor", "at most 500 characters, no NUL")
    async with store.read() as session:
        found = await stored.entries(
            session, since=since, actor=actor, before_id=before_id, limit=limit
        )
    return [
        AuditRow(
            e.id,
            e.at,
            e.actor,
            e.action,
            e.target,
            dict(e.summary.get("before") or {}),
            dict(e.summary.get("after") or {}),
        )
        for e in found
    ]
