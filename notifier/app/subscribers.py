"""Subscribers as an administrator manages them: add one (or add follows to one), import many,
take one off (or off one list), reactivate a bounced address, pause and resume, list and show.

Adding one is two steps so that a face can refuse bad input before it opens the store:
`check_subscriber` reads the fields as typed (pure), `add_subscriber` writes what it checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from notifier.app.access import require, require_member
from notifier.config import Settings
from notifier.domain import Cadence, Channel, Consent, MemberSource
from notifier.domain.actors import Actor, Area
from notifier.domain.subscriber_specs import (
    FollowSpec,
    SubscriberSpec,
    check_chat_id,
    check_email,
    check_locale,
    check_name,
    check_time_zone,
    parse_cadence,
    parse_channel,
    parse_digest_schedule,
    parse_follow_token,
)
from notifier.errors import ForbiddenError, InputError, Problem
from notifier.store import audit
from notifier.store import subscribers as stored
from notifier.store.as_json import subscriber_details, subscriber_row
from notifier.store.channel_health import smtputf8_warnings
from notifier.store.engine import Store
from notifier.store.models import Subscriber
from notifier.store.preferences import set_pause
from notifier.store.subscribers import (
    STICKY,
    add_follows,
    get_list,
    get_subscriber,
    reactivate_bounced,
)

V = TypeVar("V")
T = TypeVar("T")


def _require_list(by: Actor, mailing_list: str | None) -> None:
    """A write that adds people: a coordinator adds them only to a list of theirs."""
    require(by, Area.SUBSCRIBERS, write=True, mailing_list=mailing_list)
    if mailing_list is None and not by.sees_every_list:
        raise ForbiddenError(
            f"{by.label} (coordinator) may not add subscribers but to their own lists: name one"
        )


async def _member(session: Any, by: Actor, who: str, *, write: bool) -> Subscriber:
    """The subscriber `who`, if `by` may reach them (NotFoundError, ForbiddenError)."""
    require(by, Area.SUBSCRIBERS, write=write)
    subscriber = await get_subscriber(session, who)
    require_member(by, subscriber, write=write)
    return subscriber


def _target(subscriber: Subscriber) -> str:
    if subscriber.email:
        return subscriber.email
    return f"telegram {subscriber.telegram_chat_id}"


@dataclass(frozen=True)
class FollowEntry:
    """One follow as typed ('country=KZ:weekly', 'case=anna-ivanova', 'all', 'kazakhstan')."""

    token: str
    #: The field it was typed in, which a problem with the token names ('follows.2', an option).
    field: str = "follows"
    #: What a problem found once the store is read (no such case) names; `field` if None.
    origin: str | None = None


@dataclass(frozen=True)
class SubscriberForm:
    """A subscriber as an administrator gives one, every field as typed; `check_subscriber`
    checks them all. Text is kept as given: a face strips what its users type, if it does."""

    email: str
    name: str = ""
    follows: Sequence[FollowEntry] = ()
    #: What each follow's cadence and channel are when its token does not say.
    cadence: str = "instant"
    channel: str = "email"
    locale: str | None = None
    time_zone: str | None = None
    #: 'fri 18:30' or '18:30'.
    digest_schedule: str | None = None
    telegram_chat_id: int | None = None
    #: Also make them a member of this list (slug).
    mailing_list: str | None = None


@dataclass(frozen=True)
class SubscriberEntry:
    """A subscriber checked and ready to add: what `add_subscriber` takes."""

    spec: SubscriberSpec
    follows: list[FollowSpec]
    mailing_list: str | None = None


@dataclass(frozen=True)
class SubscriberAdded:
    email: str
    #: False: the address was known, and was updated.
    created: bool
    #: The subscriber as the export and the API show one (`subscriber_row`).
    row: dict[str, str]
    #: They had unsubscribed or bounced and stay so: what they follow is not delivered.
    status_kept: bool
    #: Why mail to the address may fail (a server known not to take it).
    warnings: list[str]


def check_subscriber(
    form: SubscriberForm, *, where: str, fields: Mapping[str, str] | None = None
) -> SubscriberEntry:
    """Every field of `form` checked; InputError with every problem found, each under the name
    `fields` gives its field (a face's own names: the CLI's options) or else its name here."""
    names = fields or {}
    problems: list[Problem] = []

    def checked(field: str, check: Callable[[V], T], value: V) -> T | None:
        try:
            return check(value)
        except ValueError as exc:
            problems.append(Problem(where, names.get(field, field), str(exc)))
            return None

    address = checked("email", check_email, form.email)
    checked("name", check_name, form.name)
    if form.locale is not None:
        checked("locale", check_locale, form.locale)
    if form.telegram_chat_id is not None:
        checked("telegram_chat_id", check_chat_id, form.telegram_chat_id)
    zone = checked("time_zone", check_time_zone, form.time_zone) if form.time_zone else None
    schedule = (
        checked("digest_schedule", parse_digest_schedule, form.digest_schedule)
        if form.digest_schedule
        else None
    )
    # A bad cadence or channel is one problem: the follows are still checked, as if not given.
    cadence = checked("cadence", parse_cadence, form.cadence) or Cadence.INSTANT
    channel = checked("channel", parse_channel, form.channel) or Channel.EMAIL
    follows = []
    for entry in form.follows:
        follow = checked(
            entry.field,
            lambda token: parse_follow_token(token, cadence=cadence, channel=channel),
            entry.token,
        )
        if follow is not None:
            follows.append(
                dataclasses.replace(follow, where=where, origin=entry.origin or entry.field)
            )
    if problems:
        raise InputError(problems)
    assert address is not None
    spec = SubscriberSpec(
        where=where,
        email=address,
        name=form.name,
        locale=form.locale,
        time_zone=zone,
        digest_schedule=schedule,
        telegram_chat_id=form.telegram_chat_id,
    )
    return SubscriberEntry(spec, follows, form.mailing_list)


async def add_subscriber(
    store: Store, settings: Settings, entry: SubscriberEntry, *, by: Actor, consent: Consent
) -> SubscriberAdded:
    """Add the subscriber, active (an administrator vouches for them, as `consent` records), or
    update the one with that address and add the follows to theirs. NotFoundError if the list
    or a followed case does not exist."""
    address = entry.spec.email
    assert address is not None
    _require_list(by, entry.mailing_list)
    async with store.transaction() as session:
        target = await get_list(session, entry.mailing_list) if entry.mailing_list else None
        known = await stored.find_subscriber(session, address)
        before = subscriber_row(known) if known is not None else {}
        report = await stored.import_subscribers(
            session,
            [entry.spec],
            settings,
            mailing_list=target,
            source=MemberSource.IMPORT,
            consent=consent,
        )
        await add_follows(session, await get_subscriber(session, address), entry.follows)
        subscriber = await get_subscriber(session, address)
        warnings = await smtputf8_warnings(session, settings, [address])
        if report.left_list:
            warnings.append(
                f"{address} left the list {entry.mailing_list} themselves and was not put back "
                "on it (only they can join it again, from its sign-up page)"
            )
        row = subscriber_row(subscriber)
        was, now = audit.changes(before, row) if before else ({}, row)
        audit.record(session, by, "subscriber.add", address, before=was, after=now)
        return SubscriberAdded(
            email=address,
            created=bool(report.created),
            row=row,
            status_kept=subscriber.status in STICKY,
            warnings=warnings,
        )


async def remove_subscriber(store: Store, who: str, *, by: Actor, erase: bool = False) -> None:
    """Unsubscribe them from everything (kept as unsubscribed, so no import brings them back),
    or erase every trace of them (the audit log then keeps only their number, not who)."""
    async with store.transaction() as session:
        subscriber = await _member(session, by, who, write=True)
        if erase:
            audit.record(session, by, "subscriber.erase", f"subscriber {subscriber.id}")
        else:
            audit.record(
                session,
                by,
                "subscriber.remove",
                _target(subscriber),
                before={"status": subscriber.status.value},
                after={"status": "unsubscribed"},
            )
        await stored.remove_subscriber(session, subscriber, erase=erase)


async def leave_list(store: Store, who: str, slug: str, *, by: Actor) -> bool:
    """Take them off one list; False if they were not on it."""
    require(by, Area.SUBSCRIBERS, write=True, mailing_list=slug)
    async with store.transaction() as session:
        subscriber = await get_subscriber(session, who)
        target = await get_list(session, slug)
        # Loaded explicitly: a lazy load cannot run under asyncio.
        await session.refresh(subscriber, ["memberships"])
        before = len(subscriber.memberships)
        subscriber.memberships = [m for m in subscriber.memberships if m.list_id != target.id]
        left = before != len(subscriber.memberships)
        audit.record(
            session,
            by,
            "subscriber.leave-list",
            f"{_target(subscriber)} from {slug}",
            before={"member": True} if left else None,
            after={"member": False} if left else None,
        )
        return left


async def reactivate_subscriber(store: Store, who: str, *, by: Actor, where: str) -> dict[str, str]:
    """Mail a bounced address again; ConflictError for any other status. Their row after."""
    async with store.transaction() as session:
        subscriber = await _member(session, by, who, write=True)
        was = subscriber.status.value
        await reactivate_bounced(session, subscriber, where)
        audit.record(
            session,
            by,
            "subscriber.reactivate",
            _target(subscriber),
            before={"status": was},
            after={"status": subscriber.status.value},
        )
        return subscriber_row(subscriber)


async def pause_subscriber(
    store: Store, who: str, until: datetime | None, *, by: Actor
) -> dict[str, Any]:
    """Send them nothing until `until` (None: end a pause now), as their preference page or
    /pause would; what `subscriber_details` tells of them after."""
    async with store.transaction() as session:
        subscriber = await _member(session, by, who, write=True)
        was = subscriber.paused_until
        await set_pause(session, subscriber.id, until)
        await session.refresh(subscriber)
        audit.record(
            session,
            by,
            "subscriber.pause" if until is not None else "subscriber.resume",
            _target(subscriber),
            before={"paused_until": was.isoformat() if was else None},
            after={"paused_until": until.isoformat() if until else None},
        )
        return await subscriber_details(session, subscriber)


async def subscriber_rows(
    store: Store, *, by: Actor, mailing_list: str | None = None
) -> list[dict[str, str]]:
    """Every subscriber (or the members of one list, by slug) as the export shows them; a
    coordinator sees only the members of their lists."""
    require(by, Area.SUBSCRIBERS, mailing_list=mailing_list)
    async with store.read() as session:
        target = await get_list(session, mailing_list) if mailing_list else None
        found = await stored.list_subscribers(session, mailing_list=target)
        return [
            subscriber_row(s)
            for s in found
            if by.sees_every_list or {m.mailing_list.slug for m in s.memberships} & by.lists
        ]


async def show_subscriber(store: Store, who: str, *, by: Actor) -> dict[str, Any]:
    """One subscriber (by address or Telegram chat id) as `subscriber_details` tells of one."""
    async with store.read() as session:
        return await subscriber_details(session, await _member(session, by, who, write=False))


@dataclass(frozen=True)
class SubscribersImported:
    #: Who was created, updated, left as they were, kept unsubscribed or bounced, put on the
    #: list; and the problems of the rows skipped.
    report: stored.SubscriberImport
    #: Why mail to some of the addresses may fail (a server known not to take them).
    warnings: list[str]


async def import_subscribers(
    store: Store,
    settings: Settings,
    specs: Sequence[SubscriberSpec],
    *,
    by: Actor,
    mailing_list: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
) -> SubscribersImported:
    """Create or update every subscriber read (`read_subscriber_csv`), by address, and put them
    on the list if one is named. A bad row: InputError naming every one, and nothing changes;
    unless `skip_invalid`, which imports the good rows and reports the bad. `dry_run`: report,
    change nothing."""
    _require_list(by, mailing_list)
    async with store.sessions() as session, session.begin():
        target = await get_list(session, mailing_list) if mailing_list else None
        report = await stored.import_subscribers(
            session, specs, settings, mailing_list=target, skip_invalid=skip_invalid
        )
        audit.record(
            session,
            by,
            "subscriber.import",
            mailing_list or "",
            after={
                "created": len(report.created),
                "updated": len(report.updated),
                "joined_list": len(report.joined_list),
                "skipped": len(report.skipped),
            },
        )
        imported = report.created + report.updated + report.unchanged
        warnings = await smtputf8_warnings(session, settings, imported)
        if dry_run:
            await session.rollback()
    return SubscribersImported(report, warnings)
