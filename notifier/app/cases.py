"""Cases as an administrator loads them: from case files, or one case as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from notifier.domain.case_specs import CaseSpec
from notifier.store import cases as stored
from notifier.store.engine import Store


async def import_cases(
    store: Store, specs: Sequence[CaseSpec], *, announce: bool = False, dry_run: bool = False
) -> stored.ImportReport:
    """Create or update each case and its updates (all or nothing). The updates of a case new to
    the store are its history, not sent to anyone unless `announce`; updates added to a case
    already here are news and go out. `dry_run`: report, change nothing."""
    async with store.sessions() as session, session.begin():
        report = await stored.import_cases(session, specs, announce_history=announce)
        if dry_run:
            await session.rollback()
    return report
