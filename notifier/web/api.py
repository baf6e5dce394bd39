"""The admin API under /api, with a bearer token from the settings (`api_token`; without one
the API answers 401 to everyone). It covers what the CLI covers for cases, updates,
subscribers, lists and the outbox, over the same store functions; input is validated and
every refusal is a clear 4xx with what was wrong, in one shape (notifier.web.api_errors):
routes raise, the app's exception handlers answer. OpenAPI at /openapi.json, with the errors
each route can answer."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from notifier import limits
from notifier.countries import resolve_country
from notifier.domain import Channel, Consent, MemberSource, OutboxStatus, Severity
from notifier.domain.case_specs import CaseSpec
from notifier.domain.subscriber_specs import (
    SubscriberSpec,
    check_email,
    check_time_zone,
    parse_cadence,
    parse_channel,
    parse_digest_schedule,
    parse_follow_token,
)
from notifier.domain.text_fields import Body, Link, Locale, SourceName, Title
from notifier.errors import InputError, Problem
from notifier.numbers import MAX_ID
from notifier.preview import preview_list
from notifier.render.messages import Renderer
from notifier.store.as_json import (
    case_json,
    list_json,
    subscriber_details,
    subscriber_row,
    update_state_json,
)
from notifier.store.cases import add_update, get_case, import_cases, list_cases
from notifier.store.lists import list_lists, list_members
from notifier.store.models import OutboxMessage, Subscriber, utcnow
from notifier.store.outbox import retry
from notifier.store.preferences import set_pause
from notifier.store.subscribers import (
    add_follows,
    get_list,
    get_subscriber,
    import_subscribers,
    list_subscribers,
    reactivate_bounced,
    remove_subscriber,
)
from notifier.store.updates import edit_update, get_update, list_updates, withdraw_update
from notifier.web.api_errors import errors
from notifier.web.api_input import OneLine, check_input
from notifier.web.state import WebState

bearer = HTTPBearer(auto_error=False)
T = TypeVar("T")


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.notifier
    return state


def authorized(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> WebState:
    state = _state(request)
    expected = state.settings.api_token
    given = credentials.credentials if credentials else ""
    # Bytes: compare_digest refuses non-ASCII str (a 500 instead of a 401).
    wanted = expected.get_secret_value().encode() if expected is not None else None
    if wanted is None or not hmac.compare_digest(given.encode(), wanted):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return state


State = Annotated[WebState, Depends(authorized)]
# The token first: without it, nothing about the request is looked at.
router = APIRouter(
    prefix="/api",
    tags=["admin"],
    dependencies=[Depends(authorized), Depends(check_input)],
    responses=errors(401),
)
#: A path or query parameter naming something: it may not exist, or not be a name at all.
LOOKUP = errors(404, 422)
#: A JSON body: it may not be JSON, or not fit.
BODY = errors(400, 422)


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    date: dt.date | None = None
    body: Body = ""
    source: SourceName | None = None
    url: Link | None = None
    urgent: StrictBool = False


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    email: Annotated[str, Field(min_length=3, max_length=limits.EMAIL)]
    # One rule for text at every web boundary (api_input), the length from limits.
    name: Annotated[OneLine, Field(max_length=limits.NAME)] = ""
    follows: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=100)] = []
    cadence: Literal["instant", "daily", "weekly"] = "instant"
    channel: Literal["email", "telegram"] = "email"
    mailing_list: str | None = Field(default=None, alias="list", max_length=120)
    locale: Locale | None = None
    time_zone: Annotated[
        str | None, Field(max_length=limits.TIME_ZONE, examples=["Asia/Almaty"])
    ] = None
    digest_schedule: Annotated[str | None, Field(max_length=40, examples=["fri 18:30"])] = None
    telegram_chat_id: Annotated[
        int | None, Field(ge=-limits.TELEGRAM_CHAT_ID, le=limits.TELEGRAM_CHAT_ID)
    ] = None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=limits.EMAIL)]
    # One rule for text at every web boundary (api_input), the length from limits.
    name: Annotated[OneLine, Field(max_length=limits.NAME)] = ""


class RetryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        # What the check below asks, for clients and fuzzers.
        json_schema_extra={
            "anyOf": [
                {"required": ["ids"], "properties": {"ids": {"minItems": 1}}},
                {"required": ["failed"], "properties": {"failed": {"const": True}}},
            ]
        },
    )

    ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(max_length=10_000)] = []
    failed: StrictBool = False

    @model_validator(mode="after")
    def _ids_or_failed(self) -> RetryIn:
        if not self.ids and not self.failed:
            raise PydanticCustomError("missing", "give ids or failed: true")
        return self


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
async def import_case(state: State, spec: CaseSpec) -> dict[str, Any]:
    """Create or update a case (the case file format, as JSON)."""
    async with state.store.transaction() as session:
        report = await import_cases(session, [spec])
    return {
        "created": bool(report.cases_created),
        "changed": bool(report.cases_changed),
        "updates_added": report.updates_added,
        "updates_changed": report.updates_changed,
    }


@router.post("/cases/{slug}/updates", status_code=status.HTTP_201_CREATED, responses=LOOKUP | BODY)
async def new_update(
    state: State, slug: Annotated[str, Path(max_length=200)], update: UpdateIn
) -> dict[str, Any]:
    """Add news to a case; the watcher sends it like any other."""
    async with state.store.transaction() as session:
        row, created = await add_update(
            session,
            await get_case(session, slug),
            day=update.date or utcnow().date(),
            title=update.title,
            body=update.body,
            source_name=update.source,
            source_url=str(update.url) if update.url else None,
            severity=Severity.URGENT if update.urgent else Severity.NORMAL,
        )
    return {"id": row.id, "created": created}


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


class UpdateEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    date: dt.date | None = None
    body: Body | None = None
    source: SourceName | None = None
    url: Link | None = None
    urgent: StrictBool | None = None


#: Beyond the store's ids no update can exist (and PostgreSQL refuses to look).
UpdateId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.patch("/updates/{update_id}", responses=LOOKUP | BODY | errors(409))
async def correct_update(state: State, update_id: UpdateId, body: UpdateEdit) -> dict[str, Any]:
    """Correct an update: alerts not yet sent and digests not yet built carry the correction.
    409 if it was withdrawn."""
    severity = None if body.urgent is None else (
        Severity.URGENT if body.urgent else Severity.NORMAL
    )  # fmt: skip
    async with state.store.transaction() as session:
        found = await get_update(session, update_id)
        changed = await edit_update(
            session, found, title=body.title, body=body.body, day=body.date,
            source_name=body.source, source_url=str(body.url) if body.url else None,
            severity=severity, where="api",
        )  # fmt: skip
        return update_state_json(found) | {"changed": changed}


@router.post("/updates/{update_id}/withdraw", responses=LOOKUP)
async def withdraw(state: State, update_id: UpdateId) -> dict[str, Any]:
    """Withdraw an update: alerts and digests not yet sent that hold it stop now; digests and
    case pages leave it out from then on."""
    async with state.store.transaction() as session:
        found = await get_update(session, update_id)
        stopped = await withdraw_update(session, found)
        return update_state_json(found) | {
            "stopped": stopped.alerts,
            "digests_stopped": stopped.digests,
        }


@router.get("/subscribers", responses=LOOKUP)
async def subscribers(
    state: State, list: Annotated[str | None, Query(max_length=120)] = None
) -> list[dict[str, str]]:
    async with state.store.read() as session:
        target = await get_list(session, list) if list else None
        return [subscriber_row(s) for s in await list_subscribers(session, mailing_list=target)]


@router.get("/subscribers/{email}", responses=LOOKUP)
async def subscriber(state: State, email: Annotated[str, Path(max_length=320)]) -> dict[str, Any]:
    """One subscriber as `notifier subscribers show --json` tells it."""
    async with state.store.read() as session:
        return await subscriber_details(session, await get_subscriber(session, email))


def _parsed(problems: list[Problem], field: str, parse: Callable[[str], T], value: str) -> T | None:
    """`parse(value)`, or None with a problem named after the field."""
    try:
        return parse(value)
    except ValueError as exc:
        problems.append(Problem("api", field, str(exc)))
        return None


@router.post("/subscribers", status_code=status.HTTP_201_CREATED, responses=LOOKUP | BODY)
async def add_subscriber(state: State, body: SubscriberIn) -> dict[str, str]:
    """Add a subscriber (active: an admin vouches for them), or add follows to one. 404 if the
    list does not exist."""
    problems: list[Problem] = []
    address = _parsed(problems, "email", check_email, body.email)
    cadence, channel = parse_cadence(body.cadence), parse_channel(body.channel)
    follows = [
        _parsed(
            problems,
            f"follows.{n}",
            lambda t: parse_follow_token(t, cadence=cadence, channel=channel),
            token,
        )
        for n, token in enumerate(body.follows)
    ]
    zone = body.time_zone and _parsed(problems, "time_zone", check_time_zone, body.time_zone)
    schedule = body.digest_schedule and _parsed(
        problems, "digest_schedule", parse_digest_schedule, body.digest_schedule
    )
    if problems:
        raise InputError(problems)
    assert address is not None
    spec = SubscriberSpec(
        where="api",
        email=address,
        name=body.name,
        locale=body.locale,
        time_zone=zone or None,
        digest_schedule=schedule or None,
        telegram_chat_id=body.telegram_chat_id,
    )
    async with state.store.transaction() as session:
        target = await get_list(session, body.mailing_list) if body.mailing_list else None
        await import_subscribers(
            session,
            [spec],
            state.settings,
            mailing_list=target,
            source=MemberSource.IMPORT,
            consent=Consent.API,
        )
        await add_follows(
            session, await get_subscriber(session, address), [f for f in follows if f]
        )
        return subscriber_row(await get_subscriber(session, address))


@router.delete("/subscribers/{email}", responses=LOOKUP)
async def delete_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)], erase: bool = False
) -> dict[str, str]:
    async with state.store.transaction() as session:
        await remove_subscriber(session, await get_subscriber(session, email), erase=erase)
    return {"email": email, "result": "erased" if erase else "unsubscribed"}


@router.post("/subscribers/{email}/reactivate", responses=LOOKUP | errors(409))
async def reactivate_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)]
) -> dict[str, str]:
    """Mail a bounced address again (409 for any other status)."""
    async with state.store.transaction() as session:
        found = await get_subscriber(session, email)
        await reactivate_bounced(session, found, "api")
        return subscriber_row(found)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=1, le=366)] = 7


async def _pause(state: WebState, email: str, until: dt.datetime | None) -> dict[str, Any]:
    async with state.store.transaction() as session:
        found = await get_subscriber(session, email)
        await set_pause(session, found.id, until)
        await session.refresh(found)
        return await subscriber_details(session, found)


@router.post("/subscribers/{email}/pause", responses=LOOKUP | BODY)
async def pause_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)], body: PauseIn
) -> dict[str, Any]:
    """Send nothing to them for `days` (as their preference page or /pause would)."""
    return await _pause(state, email, utcnow() + dt.timedelta(days=body.days))


@router.post("/subscribers/{email}/resume", responses=LOOKUP)
async def resume_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)]
) -> dict[str, Any]:
    """End a pause now."""
    return await _pause(state, email, None)


@router.get("/lists")
async def lists(state: State) -> list[dict[str, Any]]:
    async with state.store.read() as session:
        return [list_json(m, n) for m, n in await list_lists(session)]


@router.get("/lists/{slug}", responses=LOOKUP)
async def one_list(state: State, slug: Annotated[str, Path(max_length=120)]) -> dict[str, Any]:
    async with state.store.read() as session:
        found = await get_list(session, slug, follows=True)
        members = await list_members(session, found)
        return list_json(found, len(members)) | {
            "members": [
                {"email": s.email, "name": s.name, "status": s.status.value, "source": src.value}
                for s, src in members
            ]
        }


@router.post("/lists/{slug}/members", status_code=status.HTTP_201_CREATED, responses=LOOKUP | BODY)
async def add_member(
    state: State, slug: Annotated[str, Path(max_length=120)], body: MemberIn
) -> dict[str, Any]:
    problems: list[Problem] = []
    address = _parsed(problems, "email", check_email, body.email)
    if problems:
        raise InputError(problems)
    assert address is not None
    async with state.store.transaction() as session:
        report = await import_subscribers(
            session,
            [SubscriberSpec(where="api", email=address, name=body.name)],
            state.settings,
            mailing_list=await get_list(session, slug),
            source=MemberSource.IMPORT,
            consent=Consent.API,
        )
    return {"email": address, "joined": bool(report.joined_list)}


@router.get("/outbox", responses=errors(422))
async def outbox(
    state: State,
    status_: Annotated[OutboxStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    query = (
        select(OutboxMessage, Subscriber.email)
        .outerjoin(Subscriber, Subscriber.id == OutboxMessage.subscriber_id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status_ is not None:
        query = query.where(OutboxMessage.status == status_)
    async with state.store.read() as session:
        rows = (await session.execute(query)).all()
    return [
        {
            "id": m.id,
            "channel": m.channel.value,
            "recipient": email if m.channel is Channel.EMAIL else m.recipient,
            "key": m.key,
            "status": m.status.value,
            "attempts": m.attempts,
            "last_error": m.last_error,
        }
        for m, email in rows
    ]


@router.post("/outbox/retry", responses=BODY)
async def outbox_retry(state: State, body: RetryIn) -> dict[str, int]:
    async with state.store.transaction() as session:
        count = await retry(session, ids=body.ids, failed=body.failed, now=utcnow())
    return {"queued": count}


@router.get("/lists/{slug}/digest-preview", responses=LOOKUP)
async def digest_preview(
    state: State,
    slug: Annotated[str, Path(max_length=120)],
    format: Literal["text", "html", "telegram"] = "text",
    recent: Annotated[int, Query(ge=0, le=100)] = 0,
) -> dict[str, Any]:
    renderer = Renderer(state.settings)
    channel = Channel.TELEGRAM if format == "telegram" else Channel.EMAIL
    message, why = await preview_list(
        state.store, renderer, slug, channel, now=utcnow(), recent=recent
    )
    if message is None:
        return {"empty": True, "reason": why}
    body = message.html if format == "html" else message.text
    return {"empty": False, "subject": message.subject, "body": body}
