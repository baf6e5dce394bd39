"""The Outbox and Bounces sections: messages filtered by status, channel, kind and the days they
were made, each with its last error, a page at a time (Next and First: the cursor runs one
way); every failed message, or one, sent again (owners); and the addresses that bounced or are
bouncing, each with its last report and a link to the subscriber's page (where a bounced
address is reactivated). Owners and editors read; coordinators see neither."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from notifier import app as tasks
from notifier.app import sessions
from notifier.domain import RETRYABLE, Channel, MessageKind, OutboxStatus
from notifier.domain.actors import Area
from notifier.errors import InputError
from notifier.numbers import as_id
from notifier.web.console.access import (
    console_page,
    errors_by_field,
    need,
    posted,
    see_other,
    state_of,
    text_of,
)
from notifier.web.console.values import page_error, page_size, shown, when

router = APIRouter(include_in_schema=False)
Reader = Annotated[sessions.SignedIn, Depends(need(Area.OUTBOX))]
Writer = Annotated[sessions.SignedIn, Depends(need(Area.OUTBOX, write=True))]
BounceReader = Annotated[sessions.SignedIn, Depends(need(Area.BOUNCES))]

PAGE = 50
MOST = 200
#: The outbox filter's fields, as the page (and its address) names them.
FIELDS = ("status", "channel", "kind", "since", "until")
#: The longest a choice or a date may be typed: past this it is no choice or date of ours.
LONGEST = 40


def _day(typed: str, name: str, errors: dict[str, str]) -> date | None:
    if typed == "":
        return None
    try:
        if len(typed) > 10:
            raise ValueError
        return date.fromisoformat(typed)
    except ValueError:
        seen = typed[:20].replace("\x00", "\\0")
        errors[name] = f"{seen!r} is not a date (YYYY-MM-DD)"
        return None


@router.get("/admin/outbox", response_class=HTMLResponse)
async def outbox(
    request: Request,
    signed: Reader,
    status: str = "",
    channel: str = "",
    kind: str = "",
    since: str = "",
    until: str = "",
    after: str = "",
    limit: str = "",
    retried: str = "",
) -> Response:
    state = state_of(request)
    typed = {"status": status, "channel": channel, "kind": kind, "since": since, "until": until}
    filters: dict[str, Any] = {k: shown(v, LONGEST) for k, v in typed.items()}
    errors: dict[str, str] = {}
    size = page_size(limit, errors, usual=PAGE, most=MOST)
    filters["limit"] = size
    first = _day(since, "since", errors)
    last = _day(until, "until", errors)
    context: dict[str, Any] = {
        "filters": filters,
        "query": urlencode(filters),
        "statuses": [s.value for s in OutboxStatus],
        "channels": [c.value for c in Channel],
        "kinds": [k.value for k in MessageKind],
        "retryable": [s.value for s in RETRYABLE],
        "writer": signed.actor.may(Area.OUTBOX, write=True),
        "when": when,
        "found": None,
        "after": "",
        "notice": f"{retried} message{'s' if retried != '1' else ''} queued to be sent again."
        if retried.isascii() and retried.isdigit() and len(retried) < 12
        else "",
    }
    if not errors:
        try:
            context["found"] = await tasks.outbox_page(
                state.store, signed.actor,
                status=status or None, channel=channel or None, kind=kind or None,
                since=datetime.combine(first, time(), UTC) if first else None,
                # The last day shown in full: up to the start of the day after.
                until=datetime.combine(last + timedelta(days=1), time(), UTC) if last else None,
                after=after or None, limit=size,
            )  # fmt: skip
            context["after"] = after
        except InputError as exc:
            errors = errors_by_field(exc.problems)
    if errors:
        page_error(errors, FIELDS)
        return console_page(request, signed, "outbox", status=400, errors=errors, **context)
    return console_page(request, signed, "outbox", **context)


def _back(form_value: str, queued: int) -> str:
    """The outbox page the form was on (its filters only), telling how many were queued."""
    kept = {k: v for k, v in parse_qsl(form_value[:1000]) if k in (*FIELDS, "limit")}
    return f"/admin/outbox?{urlencode({**kept, 'retried': queued})}"


@router.post("/admin/outbox/retry-failed", response_class=HTMLResponse)
async def retry_failed(request: Request, signed: Writer) -> Response:
    form = await posted(request, signed)
    queued = await tasks.retry_messages(state_of(request).store, by=signed.actor, failed=True)
    return see_other(_back(text_of(form, "back"), queued))


@router.post("/admin/outbox/{message_id}/retry", response_class=HTMLResponse)
async def retry_one(request: Request, signed: Writer, message_id: str) -> Response:
    form = await posted(request, signed)
    number = as_id(message_id[:12])
    if number is None:
        what = f"no message {message_id[:20]!r}"
        return console_page(request, signed, "not_found", status=404, what=what)
    queued = await tasks.retry_messages(state_of(request).store, by=signed.actor, ids=[number])
    return see_other(_back(text_of(form, "back"), queued))


# --- bounces --------------------------------------------------------------------------------------


@router.get("/admin/bounces", response_class=HTMLResponse)
async def bounces(
    request: Request,
    signed: BounceReader,
    which: str = "",
    after: str = "",
    limit: str = "",
) -> Response:
    state = state_of(request)
    errors: dict[str, str] = {}
    size = page_size(limit, errors, usual=PAGE, most=MOST)
    filters = {"which": shown(which, LONGEST), "limit": size}
    context: dict[str, Any] = {
        "filters": filters,
        "kinds": tasks.BOUNCE_KINDS,
        "when": when,
        "found": None,
        "after": "",
    }
    if not errors:
        try:
            context["found"] = await tasks.bounces_page(
                state.store, signed.actor, which=which or None, after=after or None, limit=size
            )
            context["after"] = after
        except InputError as exc:
            errors = errors_by_field(exc.problems)
    if errors:
        for name in [n for n in errors if n not in ("which", "")]:
            errors[""] = f"{name}: {errors.pop(name)}"
        return console_page(request, signed, "bounces", status=400, errors=errors, **context)
    return console_page(request, signed, "bounces", **context)
