"""Cases, subscribers and lists as plain JSON-ready dicts: one shape for the CLI's --json, the
subscriber CSV export and the admin API."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.countries import country_name
from notifier.domain import Scope
from notifier.domain.subscriber_specs import digest_schedule_cell
from notifier.store.models import (
    Case,
    ListFollow,
    ListMember,
    MailingList,
    Subscriber,
    Subscription,
    utcnow,
)
from notifier.store.subscribers import follow_specs
from notifier.store.updates import UpdateState


def case_json(case: Case, *, with_updates: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": case.slug,
        "name": case.name,
        "spellings": case.spellings,
        "country": case.country,
        "country_name": country_name(case.country),
        "role": case.role,
        "status": case.status.value,
        "published": case.published,
    }
    if with_updates:
        data |= {
            "summary": case.summary,
            "letter": {"address": case.letter_address, "guidance": case.letter_guidance}
            if case.letter_address
            else None,
            "actions": case.actions,
            "prayer": case.prayer,
            "sources": case.sources,
            "translations": case.translations or {},
            "updates": [
                {
                    "id": u.id,
                    "key": u.key,
                    "date": u.event_date.isoformat(),
                    "title": u.title,
                    "body": u.body,
                    "source": {"name": u.source_name, "url": u.source_url}
                    if u.source_name
                    else None,
                    "severity": u.severity.value,
                    "translations": u.translations or {},
                    "withdrawn_at": u.withdrawn_at.isoformat() if u.withdrawn_at else None,
                }
                for u in case.updates
            ],
        }
    return data


def follow_token(follow: ListFollow) -> str:
    if follow.scope is Scope.ALL:
        return "all"
    if follow.scope is Scope.COUNTRY:
        return f"country={follow.country}"
    return f"case={follow.case.slug if follow.case else follow.case_id}"


def list_json(mailing_list: MailingList, members: int) -> dict[str, Any]:
    return {
        "slug": mailing_list.slug,
        "name": mailing_list.name,
        "description": mailing_list.description,
        "follows": [follow_token(f) for f in mailing_list.follows],
        "cadence": mailing_list.cadence.value,
        "schedule": mailing_list.schedule,
        "time_zone": mailing_list.time_zone,
        "channels": mailing_list.channels,
        "template": mailing_list.template,
        "members": members,
    }


def _export_row(
    subscriber: Any, follows: list[str], lists: list[str], now: datetime | None = None
) -> dict[str, str]:
    """`subscriber`: a Subscriber, or a row of its columns (the same names); `follows`: their
    tokens ('country=KZ:weekly:email'), `lists`: their lists' slugs, in any order; `now`: to
    tell a pause under way (default: the time of the call)."""
    paused = subscriber.paused_until
    consent = subscriber.consent
    return {
        "email": subscriber.email or "",
        "name": subscriber.name,
        "status": str(subscriber.status),
        "paused_until": paused.isoformat() if paused and paused > (now or utcnow()) else "",
        "locale": subscriber.locale,
        "time_zone": subscriber.time_zone,
        "digest_schedule": digest_schedule_cell(subscriber.digest_day, subscriber.digest_time),
        "telegram_chat_id": ""
        if subscriber.telegram_chat_id is None
        else str(subscriber.telegram_chat_id),
        "follows": " ".join(sorted(follows)),
        "lists": " ".join(sorted(lists)),
        "consent": str(consent) if consent else "",
        "confirmed_at": subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else "",
    }


def subscriber_row(subscriber: Subscriber) -> dict[str, str]:
    """The subscriber as one CSV / JSON record (what import reads back). Their follows and
    their lists, each with its list, must be loaded."""
    return _export_row(
        subscriber,
        [f.token() for f in follow_specs(subscriber)],
        [m.mailing_list.slug for m in subscriber.memberships],
    )


def _as_text(column: Any) -> Any:
    """An enum column read as its stored text: no conversion per row (the CSV wants text)."""
    return type_coerce(column, String()).label(column.key)


_EXPORTED = (
    Subscriber.id,
    Subscriber.email,
    Subscriber.name,
    _as_text(Subscriber.status),
    Subscriber.paused_until,
    Subscriber.locale,
    Subscriber.time_zone,
    Subscriber.digest_day,
    Subscriber.digest_time,
    Subscriber.telegram_chat_id,
    _as_text(Subscriber.consent),
    Subscriber.confirmed_at,
)


async def member_ids(session: AsyncSession, mailing_list: MailingList) -> list[int]:
    """The list's members' ids, in the order of their addresses (the export's order)."""
    connection = await session.connection()
    return list(
        (
            await connection.execute(
                select(Subscriber.id)
                .join(ListMember, ListMember.subscriber_id == Subscriber.id)
                .where(ListMember.list_id == mailing_list.id)
                .order_by(Subscriber.email, Subscriber.id)
            )
        ).scalars()
    )


async def rows_of(session: AsyncSession, ids: list[int]) -> list[dict[str, str]]:
    """These subscribers as `subscriber_row` gives each, in the order of `ids`, from three
    plain queries (them; their follows; their lists) grouped here, not ORM objects (loading
    7,400 list members as Subscribers with their follows and memberships took ~3 s)."""
    connection = await session.connection()  # plain rows: no ORM loading step per row
    people = {
        row.id: row
        for row in await connection.execute(select(*_EXPORTED).where(Subscriber.id.in_(ids)))
    }
    follows: dict[int, list[str]] = defaultdict(list)
    country, everything = Scope.COUNTRY.value, Scope.ALL.value
    for who, scope, code, slug, cadence, channel in await connection.execute(
        select(
            Subscription.subscriber_id,
            _as_text(Subscription.scope),
            Subscription.country,
            Case.slug,
            _as_text(Subscription.cadence),
            _as_text(Subscription.channel),
        )
        .outerjoin(Case, Case.id == Subscription.case_id)
        .where(Subscription.subscriber_id.in_(ids))
    ):
        # As FollowSpec.token() says it.
        what = "all" if scope == everything else f"{scope}={code if scope == country else slug}"
        follows[who].append(f"{what}:{cadence}:{channel}")
    lists: dict[int, list[str]] = defaultdict(list)
    for who, slug in await connection.execute(
        select(ListMember.subscriber_id, MailingList.slug)
        .join(MailingList, MailingList.id == ListMember.list_id)
        .where(ListMember.subscriber_id.in_(ids))
    ):
        lists[who].append(slug)
    now = utcnow()
    return [_export_row(people[i], follows[i], lists[i], now) for i in ids if i in people]


async def member_rows(session: AsyncSession, mailing_list: MailingList) -> list[dict[str, str]]:
    """The list's members as `subscriber_row` gives each, ordered by address."""
    return await rows_of(session, await member_ids(session, mailing_list))


async def subscriber_details(session: AsyncSession, subscriber: Subscriber) -> dict[str, Any]:
    """Everything `subscribers show` and `GET /api/subscribers/{email}` tell about one person:
    the export row, follows one by one, lists joined (and how), and a pause under way."""
    await session.refresh(subscriber, ["memberships"])
    lists = []
    for membership in subscriber.memberships:
        await session.refresh(membership, ["mailing_list"])
        lists.append({"list": membership.mailing_list.slug, "source": membership.source.value})
    paused = subscriber.paused_until
    return subscriber_row(subscriber) | {
        "follows": [f.token() for f in follow_specs(subscriber)],
        "lists": lists,
        "paused_until": paused.isoformat() if paused and paused > utcnow() else None,
    }


def update_state_json(state: UpdateState) -> dict[str, Any]:
    """An update as `updates list --json` and `GET /api/updates` show it."""
    u = state.update
    return {
        "id": u.id,
        "case": state.case.slug,
        "date": u.event_date.isoformat(),
        "title": u.title,
        "severity": u.severity.value,
        "entered_at": u.entered_at.isoformat(),
        "edited_at": u.edited_at.isoformat() if u.edited_at else None,
        "withdrawn_at": u.withdrawn_at.isoformat() if u.withdrawn_at else None,
        "announced": u.announce,
        "translations": u.translations or {},
        "alerts": state.alerts,
    }
