"""Digests — the planner: for each list and each personal daily/weekly cadence whose scheduled
time has come, build that period's digest once — body rendered once per distinct content,
one outbox row per recipient — and move the digest's cursor, all in one transaction.

A period is named by its due instant (`period_key`), so building it twice writes nothing twice,
and after downtime only the latest missed period is built: it holds everything since the
previous digest, so nothing is lost and nothing is sent twice. A digest sent by hand
(`send_list_digest_now`) is a period that ends when it is built: the scheduled one that follows
covers the rest, on its usual day."""

from __future__ import annotations

from datetime import datetime

from notifier.digests.lists import build_list_digest, plan_list_digests, send_list_digest_now
from notifier.digests.periods import list_schedule, personal_schedule
from notifier.digests.personal import (
    TITLES,
    PersonalGroup,
    personal_groups,
    plan_personal_digests,
)
from notifier.digests.records import DigestReport
from notifier.render.messages import Renderer
from notifier.store.engine import Store
from notifier.store.models import utcnow

__all__ = [
    "TITLES",
    "DigestReport",
    "PersonalGroup",
    "build_list_digest",
    "content",
    "list_schedule",
    "periods",
    "personal_groups",
    "personal_schedule",
    "plan_digests",
    "plan_list_digests",
    "plan_personal_digests",
    "send_list_digest_now",
]


async def plan_digests(
    store: Store, renderer: Renderer, *, now: datetime | None = None
) -> DigestReport:
    """Every digest due at `now` (lists and personal cadences), each built once."""
    moment = now or utcnow()
    report = await plan_list_digests(store, renderer, now=moment)
    report.add(await plan_personal_digests(store, renderer, now=moment))
    return report
