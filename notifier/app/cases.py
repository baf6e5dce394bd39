"""Cases as an administrator loads them: from case files, or one case as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from notifier.app.access import require
from notifier.domain.actors import Actor, Area
from notifier.domain.case_specs import CaseSpec
from notifier.store import audit
from notifier.store import cases as stored
from notifier.store.engine import Store


async def import_cases(
    store: Store,
    specs: Sequence[CaseSpec],
    *,
    by: Actor,
    announce: bool = False,
    dry_run: bool = False,
) -> stored.ImportReport:
    """Create or update each case and its updates (all or nothing). The updates of a case new to
    the store are its history, not sent to anyone unless `announce`; updates added to a case
    already here are news and go out. `dry_run`: report, change nothing."""
    require(by, Area.CASES, write=True)
    async with store.sessions() as session, session.begin():
        report = await stored.import_cases(session, specs, announce_history=announce)
        audit.record(
            session,
            by,
            "case.import",
            ", ".join(spec.slug for spec in specs),
            after={
                "created": report.cases_created,
                "changed": report.cases_changed,
                "updates_added": report.updates_added,
                "updates_changed": report.updates_changed,
            },
        )
        if dry_run:
            await session.rollback()
    return report
