"""The audit log (/admin/audit, owners): every write from the console, the API and the CLI,
newest first, filtered by day and by who, paged by the last entry shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from notifier import app as tasks
from notifier.app.sessions import SignedIn
from notifier.domain.actors import Area
from notifier.errors import InputError
from notifier.limits import ROW_ID
from notifier.web.console.access import console_page, errors_by_field, need, state_of

router = APIRouter(include_in_schema=False)
Owner = Annotated[SignedIn, Depends(need(Area.AUDIT))]
PAGE = 50


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit(
    request: Request, signed: Owner, since: str = "", actor: str = "", before: str = ""
) -> Response:
    state = state_of(request)
    shown = {
        "since": since.replace("\x00", "")[:10],
        "actor": actor.replace("\x00", "")[:500],
    }
    errors: dict[str, str] = {}
    day = None
    if since:
        try:
            day = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            errors["since"] = "a day as YYYY-MM-DD, e.g. 2026-11-30"
    before_id = None
    if before:
        if not before.isdigit() or not 1 <= int(before) <= ROW_ID:
            errors["before"] = "not a page of this log: start again from the first page"
        else:
            before_id = int(before)
    rows = []
    if not errors:
        try:
            rows = await tasks.audit_entries(
                state.store,
                signed.actor,
                since=day,
                actor=actor.strip() or None,
                before_id=before_id,
                limit=PAGE + 1,
            )
        except InputError as exc:
            errors = errors_by_field(exc.problems)
    more = len(rows) > PAGE
    return console_page(
        request,
        signed,
        "audit",
        status=400 if errors else 200,
        rows=rows[:PAGE],
        next_before=rows[PAGE - 1].id if more else None,
        form=shown,
        errors=errors,
        first_page=before_id is None,
    )
