"""The admin API under /api, with a bearer token: the settings' `api_token` (acting as an
owner), or a user's own API token (acting with the user's role; a coordinator's only on their
lists); any other token, or none, is a 401. Every route's area is in ROUTE_ACCESS, checked
against the role-by-area table (notifier.domain.actors) before the route runs: a 403 names what
was refused. It covers what the CLI covers for cases, updates,
subscribers, lists and the outbox, each route a thin shell over the same application layer
(notifier.app) as the CLI's command. Bodies are validated (notifier.web.api_bodies) and every
refusal is a clear 4xx with what was wrong, in one shape (notifier.web.api_errors): routes and
the application layer raise notifier's errors, the app's exception handlers answer, mapped
once by class. OpenAPI at /openapi.json, with the errors each route can answer."""

from __future__ import annotations

import datetime as dt
import hmac
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator

from notifier import app as tasks
from notifier.countries import resolve_country
from notifier.domain import Channel, Consent, OutboxStatus
from notifier.domain.actors import Actor, Area
from notifier.domain.case_specs import CaseSpec
from notifier.errors import InputError
from notifier.numbers import MAX_ID
from notifier.preview import preview_list
from notifier.render.messages import Renderer
from notifier.store.as_json import case_json, update_state_json
from notifier.store.cases import get_case, list_cases
from notifier.store.models import utcnow
from notifier.store.updates import list_updates
from notifier.web.api_bodies import MemberIn, PauseIn, RetryIn, SubscriberIn, UpdateEdit, UpdateIn
from notifier.web.api_errors import errors
from notifier.web.api_input import check_input
from notifier.web.state import WebState

bearer = HTTPBearer(auto_error=False)


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.notifier
    return state


async def authorized(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """Who the bearer token acts as: the configured `api_token` (an owner), or a user's own
    token (their role and lists); a 401 for anything else."""
    state = _state(request)
    expected = state.settings.api_token
    given = credentials.credentials if credentials else ""
    # Bytes: compare_digest refuses non-ASCII str (a 500 instead of a 401).
    wanted = expected.get_secret_value().encode() if expected is not None else None
    if wanted is not None and hmac.compare_digest(given.encode(), wanted):
        return Actor.configured_token()
    actor = await tasks.token_actor(state.store, given, now=utcnow()) if given else None
    if actor is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return actor


def _web_state(request: Request, _: Annotated[Actor, Depends(authorized)]) -> WebState:
    return _state(request)


State = Annotated[WebState, Depends(_web_state)]
By = Annotated[Actor, Depends(authorized)]

#: What each route (by its function's name) needs: an area, and whether it changes it. A
#: coordinator's list-scoped areas are narrowed further by the route or the application layer.
ROUTE_ACCESS: dict[str, tuple[Area, bool]] = {
    "cases": (Area.CASES, False),
    "case": (Area.CASES, False),
    "import_case": (Area.CASES, True),
    "new_update": (Area.UPDATES, True),
    "updates": (Area.UPDATES, False),
    "correct_update": (Area.UPDATES, True),
    "withdraw": (Area.UPDATES, True),
    "subscribers": (Area.SUBSCRIBERS, False),
    "subscriber": (Area.SUBSCRIBERS, False),
    "add_subscriber": (Area.SUBSCRIBERS, True),
    "delete_subscriber": (Area.SUBSCRIBERS, True),
    "reactivate_subscriber": (Area.SUBSCRIBERS, True),
    "pause_subscriber": (Area.SUBSCRIBERS, True),
    "resume_subscriber": (Area.SUBSCRIBERS, True),
    "lists": (Area.LISTS, False),
    "one_list": (Area.LISTS, False),
    "add_member": (Area.LISTS, True),
    "digest_preview": (Area.LISTS, False),
    "outbox": (Area.OUTBOX, False),
    "outbox_retry": (Area.OUTBOX, True),
    "audit": (Area.AUDIT, False),
}


def permitted(request: Request, by: By) -> None:
    """A 403 (ForbiddenError) unless the actor's role may use the route's area; before the
    input is looked at. A route missing from ROUTE_ACCESS is refused to all but owners."""
    route = request.scope.get("route")
    name = getattr(route, "name", "")
    area, write = ROUTE_ACCESS.get(name, (Area.USERS, True))
    tasks.require(by, area, write=write)


# The token first: without it, nothing about the request is looked at; then the role.
router = APIRouter(
    prefix="/api",
    tags=["admin"],
    dependencies=[Depends(authorized), Depends(permitted), Depends(check_input)],
    responses=errors(401, 403),
)
#: A path or query parameter naming something: it may not exist, or not be a name at all.
LOOKUP = errors(404, 422)
#: A JSON body: it may not be JSON, or not fit.
BODY = errors(400, 422)


@router.get("/cases", responses=LOOKUP)
async def cases(
    state: State, country: Annotated[str | None, Query(max_length=60)] = None
) -> list[dict[str, Any]]:
    code = resolve_country(country) if country else None
    async with state.store.read() as session:
        return [case_json(c) for c in await list_cases(session, country=code)]


@router.get("/cases/{slug}", responses=LOOKUP)
async def case(state: State, slug: Annotated[str, Path(max_length=200)]) -> dict[str, Any]:
    async with state.store.read() as session:
        return case_json(await get_case(session, slug), with_updates=True)


@router.post("/cases", status_code=status.HTTP_201_CREATED, responses=BODY)
async def import_case(state: State, by: By, spec: CaseSpec) -> dict[str, Any]:
    """Create or update a case (the case file format, as JSON)."""
    report = await tasks.import_cases(state.store, [spec], by=by)
    return {
        "created": bool(report.cases_created),
        "changed": bool(report.cases_changed),
        "updates_added": report.updates_added,
        "updates_changed": report.updates_changed,
    }


@router.post("/cases/{slug}/updates", status_code=status.HTTP_201_CREATED, responses=LOOKUP | BODY)
async def new_update(
    state: State, by: By, slug: Annotated[str, Path(max_length=200)], update: UpdateIn
) -> dict[str, Any]:
    """Add news to a case; the watcher sends it like any other."""
    added = await tasks.add_update(
        state.store, slug, by=by, day=update.date or utcnow().date(), title=update.title,
        body=update.body, source=update.source, url=str(update.url) if update.url else None,
        urgent=update.urgent, translations=update.translations,
    )  # fmt: skip
    return {"id": added.id, "created": added.created}


@router.get("/updates", responses=LOOKUP)
async def updates(
    state: State,
    case: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
) -> list[dict[str, Any]]:
    """The latest updates, newest first, with their alerts by status."""
    async with state.store.read() as session:
        found = await get_case(session, case) if case else None
        return [update_state_json(s) for s in await list_updates(session, case=found, limit=limit)]


#: Beyond the store's ids no update can exist (and PostgreSQL refuses to look).
UpdateId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.patch("/updates/{update_id}", responses=LOOKUP | BODY | errors(409))
async def correct_update(
    state: State, by: By, update_id: UpdateId, body: UpdateEdit
) -> dict[str, Any]:
    """Correct an update: alerts not yet sent and digests not yet built carry the correction.
    409 if it was withdrawn."""
    corrected = await tasks.correct_update(
        state.store, update_id, by=by, where="api", title=body.title, body=body.body, day=body.date,
        source=body.source, url=str(body.url) if body.url else None, urgent=body.urgent,
        translations=body.translations,
    )  # fmt: skip
    return corrected.update | {"changed": corrected.changed}


@router.post("/updates/{update_id}/withdraw", responses=LOOKUP)
async def withdraw(state: State, by: By, update_id: UpdateId) -> dict[str, Any]:
    """Withdraw an update: alerts and digests not yet sent that hold it stop now; digests and
    case pages leave it out from then on."""
    withdrawn = await tasks.withdraw_update(state.store, update_id, by=by)
    return withdrawn.update | {
        "stopped": withdrawn.alerts_stopped,
        "digests_stopped": withdrawn.digests_stopped,
    }


@router.get("/subscribers", responses=LOOKUP)
async def subscribers(
    state: State, by: By, list: Annotated[str | None, Query(max_length=120)] = None
) -> list[dict[str, str]]:
    """Every subscriber (a coordinator: the members of their lists), or one list's members."""
    return await tasks.subscriber_rows(state.store, by=by, mailing_list=list)


@router.get("/subscribers/{email}", responses=LOOKUP)
async def subscriber(
    state: State, by: By, email: Annotated[str, Path(max_length=320)]
) -> dict[str, Any]:
    """One subscriber as `notifier subscribers show --json` tells it."""
    return await tasks.show_subscriber(state.store, email, by=by)


@router.post("/subscribers", status_code=status.HTTP_201_CREATED, responses=LOOKUP | BODY)
async def add_subscriber(state: State, by: By, body: SubscriberIn) -> dict[str, str]:
    """Add a subscriber (active: an admin vouches for them), or add follows to one. 404 if the
    list does not exist."""
    entry = tasks.check_subscriber(body.form(), where="api")
    added = await tasks.add_subscriber(
        state.store, state.settings, entry, by=by, consent=Consent.API
    )
    return added.row


@router.delete("/subscribers/{email}", responses=LOOKUP)
async def delete_subscriber(
    state: State, by: By, email: Annotated[str, Path(max_length=320)], erase: bool = False
) -> dict[str, str]:
    await tasks.remove_subscriber(state.store, email, by=by, erase=erase)
    return {"email": email, "result": "erased" if erase else "unsubscribed"}


@router.post("/subscribers/{email}/reactivate", responses=LOOKUP | errors(409))
async def reactivate_subscriber(
    state: State, by: By, email: Annotated[str, Path(max_length=320)]
) -> dict[str, str]:
    """Mail a bounced address again (409 for any other status)."""
    return await tasks.reactivate_subscriber(state.store, email, by=by, where="api")


@router.post("/subscribers/{email}/pause", responses=LOOKUP | BODY)
async def pause_subscriber(
    state: State, by: By, email: Annotated[str, Path(max_length=320)], body: PauseIn
) -> dict[str, Any]:
    """Send nothing to them for `days` (as their preference page or /pause would)."""
    until = utcnow() + dt.timedelta(days=body.days)
    return await tasks.pause_subscriber(state.store, email, until, by=by)


@router.post("/subscribers/{email}/resume", responses=LOOKUP)
async def resume_subscriber(
    state: State, by: By, email: Annotated[str, Path(max_length=320)]
) -> dict[str, Any]:
    """End a pause now."""
    return await tasks.pause_subscriber(state.store, email, None, by=by)


@router.get("/lists")
async def lists(state: State, by: By) -> list[dict[str, Any]]:
    """Every list (a coordinator: their own)."""
    return await tasks.mailing_lists(state.store, by=by)


@router.get("/lists/{slug}", responses=LOOKUP)
async def one_list(
    state: State, by: By, slug: Annotated[str, Path(max_length=120)]
) -> dict[str, Any]:
    return await tasks.show_list(state.store, slug, by=by)


@router.post(
    "/lists/{slug}/members",
    status_code=status.HTTP_201_CREATED,
    responses=LOOKUP | BODY | errors(409),
)
async def add_member(
    state: State, by: By, slug: Annotated[str, Path(max_length=120)], body: MemberIn
) -> dict[str, Any]:
    """Put someone on a list (409 if they left it themselves: only they can join again)."""
    added = await tasks.add_member(
        state.store, state.settings, slug, body.email, by=by, name=body.name, where="api",
        consent=Consent.API,
    )  # fmt: skip
    return {"email": added.email, "joined": added.joined}


@router.get("/outbox", responses=errors(422))
async def outbox(
    state: State,
    status_: Annotated[OutboxStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "channel": m.channel,
            "recipient": m.email if m.channel == Channel.EMAIL else m.recipient,
            "key": m.key,
            "status": m.status,
            "attempts": m.attempts,
            "last_error": m.last_error,
        }
        for m in await tasks.outbox_messages(state.store, status=status_, limit=limit)
    ]


@router.post("/outbox/retry", responses=BODY)
async def outbox_retry(state: State, by: By, body: RetryIn) -> dict[str, int]:
    queued = await tasks.retry_messages(state.store, by=by, ids=body.ids, failed=body.failed)
    return {"queued": queued}


@router.get("/lists/{slug}/digest-preview", responses=LOOKUP)
async def digest_preview(
    state: State,
    by: By,
    slug: Annotated[str, Path(max_length=120)],
    format: Literal["text", "html", "telegram"] = "text",
    recent: Annotated[int, Query(ge=0, le=100)] = 0,
) -> dict[str, Any]:
    tasks.require(by, Area.LISTS, mailing_list=slug)
    renderer = Renderer(state.settings)
    channel = Channel.TELEGRAM if format == "telegram" else Channel.EMAIL
    message, why = await preview_list(
        state.store, renderer, slug, channel, now=utcnow(), recent=recent
    )
    if message is None:
        return {"empty": True, "reason": why}
    body = message.html if format == "html" else message.text
    return {"empty": False, "subject": message.subject, "body": body}


#: RFC 3339, as the schema's `date-time` says (pydantic alone would take 0.5, a Unix time).
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)")


def _rfc3339(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("a date and time with its offset, as 2026-05-01T09:30:00Z")
    return value


Moment = Annotated[dt.datetime, BeforeValidator(_rfc3339)]


@router.get("/audit", responses=errors(422))
async def audit(
    state: State,
    by: By,
    since: Moment | None = None,
    actor: Annotated[str | None, Query(max_length=500)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The audit log, newest first (owners): from `since` (RFC 3339) on, by one `actor`;
    `before_id` pages on to older entries."""
    if since is not None:
        try:
            since = since.astimezone(dt.UTC) if since.tzinfo else since.replace(tzinfo=dt.UTC)
        except OverflowError:
            raise InputError.single("query", "since", "out of range") from None
    rows = await tasks.audit_entries(
        state.store, by, since=since, actor=actor, before_id=before_id, limit=limit
    )
    return [r.as_json() for r in rows]
