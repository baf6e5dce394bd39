"""The Subscribers section: a search (address or name, status, country, case, list; a page at a
time, Next and First only: the cursor runs one way), a subscriber's page (follows, lists,
consent record, pause and bounces, every message sent them), and what may be done to one:
pause until a date, resume, reactivate a bounced address, unsubscribe and erase (these two
after a page saying what will happen). Owners act on anyone; coordinators see and act on the
members of their lists only; editors read.

The application functions that change a subscriber find them by address (or Telegram chat id),
the pages by number: the page's number is turned into the address here, through the same
`subscriber_page` that refuses a coordinator someone not on their lists."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from notifier import app as tasks
from notifier import limits
from notifier.app import sessions
from notifier.domain import Consent, SubscriberStatus
from notifier.domain.actors import Area
from notifier.errors import ConflictError, InputError, NotFoundError
from notifier.numbers import as_id
from notifier.store.models import utcnow
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
Reader = Annotated[sessions.SignedIn, Depends(need(Area.SUBSCRIBERS))]
Writer = Annotated[sessions.SignedIn, Depends(need(Area.SUBSCRIBERS, write=True))]

PAGE = 50
#: A pause lasts at most this long (as the CLI's and the API's `--days`).
LONGEST_PAUSE = 366
#: The search form's fields, as the page names them; the app's names for them.
FILTERS = {
    "q": "text", "status": "status", "country": "country", "case": "case", "list": "mailing_list",
}  # fmt: skip
#: What each filter may hold, at most: longer is refused, named.
LONGEST = {"q": limits.EMAIL, "status": 40, "country": limits.COUNTRY, "case": limits.SLUG,
           "list": limits.SLUG}  # fmt: skip
#: How a subscriber came to say yes, as the page tells it.
CONSENT = {
    Consent.SIGNUP.value: "signed up on the site and confirmed by the link emailed to them",
    Consent.TELEGRAM.value: "started the bot in Telegram themselves",
    Consent.PREFERENCES.value: "subscribed again from their own preference page",
    Consent.CLI.value: "added by an administrator (the command line), who vouched for them",
    Consent.API.value: "added by an administrator through the API, who vouched for them",
    Consent.IMPORT.value: "imported by an administrator (CSV), with no record of their own",
    Consent.LIST_FILE.value: "named as a member in a list file",
}
#: What a saved action says on the subscriber's page.
DONE = {
    "paused": "Paused: nothing is sent to them until the date shown.",
    "resumed": "The pause is over: they get messages again.",
    "reactivated": "The address is active again: mail goes to it from now on.",
    "unsubscribed": "Unsubscribed from everything: nothing more is sent to them.",
}


def _missing_field(message: str) -> str:
    """The search field an unknown country, case or list was typed in."""
    for prefix, name in (("unknown country", "country"), ("no case", "case"), ("no list", "list")):
        if message.startswith(prefix):
            return name
    return ""


# --- the search -------------------------------------------------------------------------------


@router.get("/admin/subscribers", response_class=HTMLResponse)
async def subscribers(
    request: Request,
    signed: Reader,
    q: str = "",
    status: str = "",
    country: str = "",
    case: str = "",
    list_: Annotated[str, Query(alias="list")] = "",
    after: str = "",
    limit: str = "",
    done: str = "",
) -> Response:
    state = state_of(request)
    typed = {"q": q, "status": status, "country": country, "case": case, "list": list_}
    filters: dict[str, Any] = {k: shown(v, LONGEST[k]) for k, v in typed.items()}
    errors: dict[str, str] = {}
    size = page_size(limit, errors, usual=PAGE, most=200)
    filters["limit"] = size
    context: dict[str, Any] = {
        "filters": filters,
        "statuses": [s.value for s in SubscriberStatus],
        "lists": await tasks.mailing_lists(state.store, by=signed.actor),
        "after": "",
        "found": None,
        "notice": f"Subscriber {erased} is erased: nothing of them is kept."
        if (erased := as_id(done[:12]))
        else "",
    }
    if not errors:
        try:
            context["found"] = await tasks.search_subscribers(
                state.store, signed.actor,
                **{FILTERS[k]: (v or None) for k, v in typed.items()},
                after=after or None, limit=size,
            )  # fmt: skip
            context["after"] = after
        except InputError as exc:
            named = errors_by_field(exc.problems)
            back = {app: page for page, app in FILTERS.items()}
            errors = {back.get(k, k): v for k, v in named.items()}
        except NotFoundError as exc:
            errors[_missing_field(str(exc))] = str(exc)
    if errors:
        page_error(errors, tuple(FILTERS))
        return console_page(request, signed, "subscribers", status=400, errors=errors, **context)
    return console_page(request, signed, "subscribers", **context)


# --- one subscriber ---------------------------------------------------------------------------


def _their_time(at: datetime | None, zone: str) -> str:
    """A time as the subscriber lives it (a pause ends at the start of a day of theirs)."""
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})" if at is not None else ""


async def _detail(
    request: Request, signed: sessions.SignedIn, subscriber_id: str, messages_after: str = ""
) -> tasks.SubscriberDetail | None:
    """The subscriber (ForbiddenError for a coordinator if not on their lists), or None."""
    number = as_id(subscriber_id[:12])
    if number is None:
        return None
    try:
        return await tasks.subscriber_page(
            state_of(request).store,
            signed.actor,
            number,
            messages_after=messages_after or None,
        )
    except NotFoundError:
        return None


def _missing(request: Request, signed: sessions.SignedIn, subscriber_id: str) -> HTMLResponse:
    what = f"no subscriber {subscriber_id[:20]!r}"
    return console_page(request, signed, "not_found", status=404, what=what)


def _who(detail: tasks.SubscriberDetail) -> str:
    """How the application's writes find them: their address, or their Telegram chat."""
    return detail.email or str(detail.telegram_chat_id)


def _label(detail: tasks.SubscriberDetail) -> str:
    return detail.email or f"Telegram chat {detail.telegram_chat_id}"


def _subscriber_page(
    request: Request,
    signed: sessions.SignedIn,
    detail: tasks.SubscriberDetail,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("pause_until", "")
    context.setdefault("messages_after", "")
    return console_page(
        request, signed, "subscriber", status=status, s=detail, label=_label(detail),
        consent_how=CONSENT.get(detail.consent.consent or "", "no record: added before notifier "
                                "kept one, or not confirmed yet"),
        when=when, their_time=_their_time, writer=signed.actor.may(Area.SUBSCRIBERS, write=True),
        earliest=(utcnow().date() + timedelta(days=1)).isoformat(),
        latest=(utcnow().date() + timedelta(days=LONGEST_PAUSE)).isoformat(),
        **context,
    )  # fmt: skip


@router.get("/admin/subscribers/{subscriber_id}", response_class=HTMLResponse)
async def subscriber(
    request: Request,
    signed: Reader,
    subscriber_id: str,
    messages_after: str = "",
    saved: str = "",
) -> Response:
    try:
        detail = await _detail(request, signed, subscriber_id, messages_after)
    except InputError as exc:
        # A bad cursor for the messages: the page without it, the cursor named.
        detail = await _detail(request, signed, subscriber_id)
        if detail is None:
            return _missing(request, signed, subscriber_id)
        reason = errors_by_field(exc.problems).get("messages_after", str(exc))
        return _subscriber_page(
            request, signed, detail, status=400, errors={"messages": f"page cursor: {reason}"}
        )
    if detail is None:
        return _missing(request, signed, subscriber_id)
    return _subscriber_page(
        request, signed, detail, notice=DONE.get(saved, ""), messages_after=messages_after
    )


def _pause_until(typed: str, zone: str) -> datetime:
    """The start of the day typed (YYYY-MM-DD), in the subscriber's time zone; InputError
    naming `until` unless it is from tomorrow to a year ahead."""
    where = "subscriber pause"
    try:
        if len(typed) > 10:
            raise ValueError
        day = date.fromisoformat(typed)
    except ValueError:
        shown = typed[:20].replace("\x00", "\\0")
        raise InputError.single(where, "until", f"{shown!r} is not a date (YYYY-MM-DD)") from None
    today = utcnow().date()
    if not today < day <= today + timedelta(days=LONGEST_PAUSE):
        raise InputError.single(
            where, "until", f"from tomorrow to {LONGEST_PAUSE} days ahead (it is {today} in UTC)"
        )
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone))


async def _acting_on(
    request: Request, signed: sessions.SignedIn, subscriber_id: str
) -> tasks.SubscriberDetail | None:
    """A POST's subscriber, once its form token is checked."""
    return await _detail(request, signed, subscriber_id)


@router.post("/admin/subscribers/{subscriber_id}/pause", response_class=HTMLResponse)
async def pause(request: Request, signed: Writer, subscriber_id: str) -> Response:
    form = await posted(request, signed)
    detail = await _acting_on(request, signed, subscriber_id)
    if detail is None:
        return _missing(request, signed, subscriber_id)
    typed = text_of(form, "until")
    try:
        until = _pause_until(typed, detail.time_zone)
    except InputError as exc:
        return _subscriber_page(
            request, signed, detail, status=400, errors=errors_by_field(exc.problems),
            pause_until=shown(typed, 20),
        )  # fmt: skip
    await tasks.pause_subscriber(state_of(request).store, _who(detail), until, by=signed.actor)
    return see_other(f"/admin/subscribers/{detail.id}?saved=paused")


@router.post("/admin/subscribers/{subscriber_id}/resume", response_class=HTMLResponse)
async def resume(request: Request, signed: Writer, subscriber_id: str) -> Response:
    await posted(request, signed)
    detail = await _acting_on(request, signed, subscriber_id)
    if detail is None:
        return _missing(request, signed, subscriber_id)
    await tasks.pause_subscriber(state_of(request).store, _who(detail), None, by=signed.actor)
    return see_other(f"/admin/subscribers/{detail.id}?saved=resumed")


@router.post("/admin/subscribers/{subscriber_id}/reactivate", response_class=HTMLResponse)
async def reactivate(request: Request, signed: Writer, subscriber_id: str) -> Response:
    await posted(request, signed)
    detail = await _acting_on(request, signed, subscriber_id)
    if detail is None:
        return _missing(request, signed, subscriber_id)
    try:
        await tasks.reactivate_subscriber(
            state_of(request).store, _who(detail), by=signed.actor, where="console"
        )
    except ConflictError as exc:
        reason = exc.problems[0].reason if exc.problems else str(exc)
        return _subscriber_page(request, signed, detail, status=409, errors={"": reason})
    return see_other(f"/admin/subscribers/{detail.id}?saved=reactivated")


@router.get("/admin/subscribers/{subscriber_id}/unsubscribe", response_class=HTMLResponse)
async def confirm_unsubscribe(request: Request, signed: Writer, subscriber_id: str) -> Response:
    detail = await _detail(request, signed, subscriber_id)
    if detail is None:
        return _missing(request, signed, subscriber_id)
    return console_page(
        request, signed, "subscriber_end", s=detail, label=_label(detail), ending="unsubscribe"
    )


@router.post("/admin/subscribers/{subscriber_id}/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(request: Request, signed: Writer, subscriber_id: str) -> Response:
    await posted(request, signed)
    detail = await _acting_on(request, signed, subscriber_id)
    if detail is None:
        return _missing(request, signed, subscriber_id)
    await tasks.remove_subscriber(state_of(request).store, _who(detail), by=signed.actor)
    return see_other(f"/admin/subscribers/{detail.id}?saved=unsubscribed")


@router.get("/admin/subscribers/{subscriber_id}/erase", response_class=HTMLResponse)
async def confirm_erase(request: Request, signed: Writer, subscriber_id: str) -> Response:
    detail = await _detail(request, signed, subscriber_id)
    if detail is None:
        return _missing(request, signed, subscriber_id)
    return console_page(
        request, signed, "subscriber_end", s=detail, label=_label(detail), ending="erase"
    )


@router.post("/admin/subscribers/{subscriber_id}/erase", response_class=HTMLResponse)
async def erase(request: Request, signed: Writer, subscriber_id: str) -> Response:
    await posted(request, signed)
    detail = await _acting_on(request, signed, subscriber_id)
    if detail is None:
        return _missing(request, signed, subscriber_id)
    await tasks.remove_subscriber(
        state_of(request).store, _who(detail), by=signed.actor, erase=True
    )
    return see_other(f"/admin/subscribers?done={detail.id}")
