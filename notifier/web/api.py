"""The admin API under /api, with a bearer token from the settings (`api_token`; without one
the API answers 401 to everyone). It covers what the CLI covers for cases, updates,
subscribers, lists and the outbox, over the same store functions; input is validated and
every refusal is a clear 4xx with what was wrong. OpenAPI at /openapi.json."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from notifier import limits
from notifier.errors import InputError, NotFoundError
from notifier.ingest.case_files import CaseSpec
from notifier.ingest.subscriber_rows import (
    SubscriberSpec,
    check_email,
    check_time_zone,
    parse_cadence,
    parse_channel,
    parse_digest_schedule,
    parse_follow_token,
)
from notifier.ingest.text_fields import Body, Link, Locale, Name, SourceName, Title
from notifier.outbox import retry
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
from notifier.store.models import (
    Channel,
    Consent,
    MemberSource,
    OutboxMessage,
    OutboxStatus,
    Severity,
    Subscriber,
    utcnow,
)
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
from notifier.web.state import WebState

bearer = HTTPBearer(auto_error=False)
#: 422: input that parses but cannot be used (Starlette renamed its constant; the code stays).
UNPROCESSABLE = 422


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
router = APIRouter(prefix="/api", tags=["admin"])


def _not_found(exc: NotFoundError) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))


def _invalid(exc: InputError) -> HTTPException:
    detail = [{"where": p.where, "field": p.field, "reason": p.reason} for p in exc.problems]
    return HTTPException(UNPROCESSABLE, detail)


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    date: dt.date | None = None
    body: Body = ""
    source: SourceName | None = None
    url: Link | None = None
    urgent: bool = False


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    email: Annotated[str, Field(min_length=3, max_length=limits.EMAIL)]
    name: Name = ""
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
    name: Name = ""


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]], Field(max_length=10_000)] = []
    failed: bool = False


@router.get("/cases")
async def cases(
    state: State, country: Annotated[str | None, Query(max_length=60)] = None
) -> list[dict[str, Any]]:
    from notifier.countries import resolve_country

    try:
        code = resolve_country(country) if country else None
    except NotFoundError as exc:
        raise _not_found(exc) from None
    async with state.store.read() as session:
        return [case_json(c) for c in await list_cases(session, country=code)]


@router.get("/cases/{slug}")
async def case(state: State, slug: Annotated[str, Path(max_length=200)]) -> dict[str, Any]:
    async with state.store.read() as session:
        try:
            return case_json(await get_case(session, slug), with_updates=True)
        except NotFoundError as exc:
            raise _not_found(exc) from None


@router.post("/cases", status_code=status.HTTP_201_CREATED)
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


@router.post("/cases/{slug}/updates", status_code=status.HTTP_201_CREATED)
async def new_update(
    state: State, slug: Annotated[str, Path(max_length=200)], update: UpdateIn
) -> dict[str, Any]:
    """Add news to a case; the watcher sends it like any other."""
    async with state.store.transaction() as session:
        try:
            found = await get_case(session, slug)
        except NotFoundError as exc:
            raise _not_found(exc) from None
        try:
            row, created = await add_update(
                session,
                found,
                day=update.date or utcnow().date(),
                title=update.title,
                body=update.body,
                source_name=update.source,
                source_url=str(update.url) if update.url else None,
                severity=Severity.URGENT if update.urgent else Severity.NORMAL,
            )
        except InputError as exc:
            raise _invalid(exc) from None
    return {"id": row.id, "created": created}


@router.get("/updates")
async def updates(
    state: State,
    case: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
) -> list[dict[str, Any]]:
    """The latest updates, newest first, with their alerts by status."""
    async with state.store.read() as session:
        try:
            found = await get_case(session, case) if case else None
        except NotFoundError as exc:
            raise _not_found(exc) from None
        return [update_state_json(s) for s in await list_updates(session, case=found, limit=limit)]


class UpdateEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    date: dt.date | None = None
    body: Body | None = None
    source: SourceName | None = None
    url: Link | None = None
    urgent: bool | None = None


UpdateId = Annotated[int, Path(ge=1, le=2**62)]


@router.patch("/updates/{update_id}")
async def correct_update(state: State, update_id: UpdateId, body: UpdateEdit) -> dict[str, Any]:
    """Correct an update: alerts not yet sent and digests not yet built carry the correction."""
    severity = None if body.urgent is None else (
        Severity.URGENT if body.urgent else Severity.NORMAL
    )  # fmt: skip
    async with state.store.transaction() as session:
        try:
            found = await get_update(session, update_id)
            changed = await edit_update(
                session, found, title=body.title, body=body.body, day=body.date,
                source_name=body.source, source_url=str(body.url) if body.url else None,
                severity=severity, where="api",
            )  # fmt: skip
        except NotFoundError as exc:
            raise _not_found(exc) from None
        except InputError as exc:
            raise _invalid(exc) from None
        return update_state_json(found) | {"changed": changed}


@router.post("/updates/{update_id}/withdraw")
async def withdraw(state: State, update_id: UpdateId) -> dict[str, Any]:
    """Withdraw an update: alerts and digests not yet sent that hold it stop now; digests and
    case pages leave it out from then on."""
    async with state.store.transaction() as session:
        try:
            found = await get_update(session, update_id)
        except NotFoundError as exc:
            raise _not_found(exc) from None
        stopped = await withdraw_update(session, found)
        return update_state_json(found) | {
            "stopped": stopped.alerts,
            "digests_stopped": stopped.digests,
        }


@router.get("/subscribers")
async def subscribers(
    state: State, list: Annotated[str | None, Query(max_length=120)] = None
) -> list[dict[str, str]]:
    async with state.store.read() as session:
        try:
            target = await get_list(session, list) if list else None
        except NotFoundError as exc:
            raise _not_found(exc) from None
        return [subscriber_row(s) for s in await list_subscribers(session, mailing_list=target)]


@router.get("/subscribers/{email}")
async def subscriber(state: State, email: Annotated[str, Path(max_length=320)]) -> dict[str, Any]:
    """One subscriber as `notifier subscribers show --json` tells it."""
    async with state.store.read() as session:
        try:
            return await subscriber_details(session, await get_subscriber(session, email))
        except NotFoundError as exc:
            raise _not_found(exc) from None


@router.post("/subscribers", status_code=status.HTTP_201_CREATED)
async def add_subscriber(state: State, body: SubscriberIn) -> dict[str, str]:
    """Add a subscriber (active: an admin vouches for them), or add follows to one."""
    try:
        address = check_email(body.email)
        follows = [
            parse_follow_token(
                t, cadence=parse_cadence(body.cadence), channel=parse_channel(body.channel)
            )
            for t in body.follows
        ]
        spec = SubscriberSpec(
            where="api",
            email=address,
            name=body.name,
            locale=body.locale,
            time_zone=check_time_zone(body.time_zone) if body.time_zone else None,
            digest_schedule=(
                parse_digest_schedule(body.digest_schedule) if body.digest_schedule else None
            ),
            telegram_chat_id=body.telegram_chat_id,
        )
    except ValueError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None
    async with state.store.transaction() as session:
        try:
            target = await get_list(session, body.mailing_list) if body.mailing_list else None
            await import_subscribers(
                session,
                [spec],
                state.settings,
                mailing_list=target,
                source=MemberSource.IMPORT,
                consent=Consent.API,
            )
            found = await get_subscriber(session, address)
            await add_follows(session, found, follows)
            return subscriber_row(await get_subscriber(session, address))
        except NotFoundError as exc:
            raise _not_found(exc) from None
        except InputError as exc:
            raise _invalid(exc) from None


@router.delete("/subscribers/{email}")
async def delete_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)], erase: bool = False
) -> dict[str, str]:
    async with state.store.transaction() as session:
        try:
            found = await get_subscriber(session, email)
        except NotFoundError as exc:
            raise _not_found(exc) from None
        await remove_subscriber(session, found, erase=erase)
    return {"email": email, "result": "erased" if erase else "unsubscribed"}


@router.post("/subscribers/{email}/reactivate")
async def reactivate_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)]
) -> dict[str, str]:
    """Mail a bounced address again (422 for any other status)."""
    async with state.store.transaction() as session:
        try:
            found = await get_subscriber(session, email)
            await reactivate_bounced(session, found, "api")
        except NotFoundError as exc:
            raise _not_found(exc) from None
        except InputError as exc:
            raise _invalid(exc) from None
        return subscriber_row(found)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=1, le=366)] = 7


async def _pause(state: WebState, email: str, until: dt.datetime | None) -> dict[str, Any]:
    async with state.store.transaction() as session:
        try:
            found = await get_subscriber(session, email)
        except NotFoundError as exc:
            raise _not_found(exc) from None
        await set_pause(session, found.id, until)
        await session.refresh(found)
        return await subscriber_details(session, found)


@router.post("/subscribers/{email}/pause")
async def pause_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)], body: PauseIn
) -> dict[str, Any]:
    """Send nothing to them for `days` (as their preference page or /pause would)."""
    return await _pause(state, email, utcnow() + dt.timedelta(days=body.days))


@router.post("/subscribers/{email}/resume")
async def resume_subscriber(
    state: State, email: Annotated[str, Path(max_length=320)]
) -> dict[str, Any]:
    """End a pause now."""
    return await _pause(state, email, None)


@router.get("/lists")
async def lists(state: State) -> list[dict[str, Any]]:
    async with state.store.read() as session:
        return [list_json(m, n) for m, n in await list_lists(session)]


@router.get("/lists/{slug}")
async def one_list(state: State, slug: Annotated[str, Path(max_length=120)]) -> dict[str, Any]:
    async with state.store.read() as session:
        try:
            found = await get_list(session, slug, follows=True)
        except NotFoundError as exc:
            raise _not_found(exc) from None
        members = await list_members(session, found)
        return list_json(found, len(members)) | {
            "members": [
                {"email": s.email, "name": s.name, "status": s.status.value, "source": src.value}
                for s, src in members
            ]
        }


@router.post("/lists/{slug}/members", status_code=status.HTTP_201_CREATED)
async def add_member(
    state: State, slug: Annotated[str, Path(max_length=120)], body: MemberIn
) -> dict[str, Any]:
    try:
        address = check_email(body.email)
    except ValueError as exc:
        raise HTTPException(UNPROCESSABLE, str(exc)) from None
    async with state.store.transaction() as session:
        try:
            target = await get_list(session, slug)
        except NotFoundError as exc:
            raise _not_found(exc) from None
        report = await import_subscribers(
            session,
            [SubscriberSpec(where="api", email=address, name=body.name)],
            state.settings,
            mailing_list=target,
            source=MemberSource.IMPORT,
            consent=Consent.API,
        )
    return {"email": address, "joined": bool(report.joined_list)}


@router.get("/outbox")
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


@router.post("/outbox/retry")
async def outbox_retry(state: State, body: RetryIn) -> dict[str, int]:
    if not body.ids and not body.failed:
        raise HTTPException(UNPROCESSABLE, "give ids or failed: true")
    async with state.store.transaction() as session:
        count = await retry(session, ids=body.ids, failed=body.failed, now=utcnow())
    return {"queued": count}


@router.get("/lists/{slug}/digest-preview")
async def digest_preview(
    state: State,
    slug: Annotated[str, Path(max_length=120)],
    format: Literal["text", "html", "telegram"] = "text",
    recent: Annotated[int, Query(ge=0, le=100)] = 0,
) -> dict[str, Any]:
    renderer = Renderer(state.settings)
    channel = Channel.TELEGRAM if format == "telegram" else Channel.EMAIL
    try:
        message, why = await preview_list(
            state.store, renderer, slug, channel, now=utcnow(), recent=recent
        )
    except NotFoundError as exc:
        raise _not_found(exc) from None
    if message is None:
        return {"empty": True, "reason": why}
    body = message.html if format == "html" else message.text
    return {"empty": False, "subject": message.subject, "body": body}
