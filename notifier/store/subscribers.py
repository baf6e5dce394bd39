"""Subscribers and what they follow: add, import, remove, list, export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from notifier.config import Settings
from notifier.domain import Consent, MemberSource, Scope, SubscriberStatus, outbox_keys, target_of
from notifier.domain.subscriber_specs import FollowSpec, SubscriberSpec
from notifier.errors import ConflictError, InputError, NotFoundError, Problem
from notifier.mail_address import stored_address
from notifier.numbers import as_int
from notifier.store.cases import resolve_case
from notifier.store.models import (
    Case,
    DigestCursor,
    ListDeparture,
    ListFollow,
    ListMember,
    MailingList,
    Subscriber,
    Subscription,
    utcnow,
)
from notifier.store.outbox import erase_for
from notifier.store.preferences import leave_everything

#: Statuses an import never overrides: a person who left, or whose address bounced, stays so.
STICKY = {SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED}
_CHUNK = 500


@dataclass
class SubscriberImport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_status: list[str] = field(default_factory=list)
    joined_list: list[str] = field(default_factory=list)
    #: Named for the list, but they left it themselves: not put back.
    left_list: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.joined_list)


def _load() -> list[_AbstractLoad]:
    return [
        selectinload(Subscriber.subscriptions).selectinload(Subscription.case),
        selectinload(Subscriber.memberships).selectinload(ListMember.mailing_list),
    ]


async def find_subscriber(session: AsyncSession, who: str) -> Subscriber | None:
    """By email (any case, an IDN domain as A-labels or as typed) or by Telegram chat id."""
    query = select(Subscriber).options(*_load())
    if (chat_id := as_int(who.strip())) is not None:
        query = query.where(Subscriber.telegram_chat_id == chat_id)
    else:
        query = query.where(Subscriber.email == stored_address(who))
    return await session.scalar(query)


async def get_subscriber(session: AsyncSession, who: str) -> Subscriber:
    found = await find_subscriber(session, who)
    if found is None:
        raise NotFoundError(f"no subscriber {who!r}")
    return found


async def get_list(session: AsyncSession, slug: str, *, follows: bool = False) -> MailingList:
    """The list with this slug (and, with `follows`, what it follows, cases loaded);
    NotFoundError naming the lists there are."""
    query = select(MailingList).where(MailingList.slug == slug)
    if follows:
        query = query.options(selectinload(MailingList.follows).selectinload(ListFollow.case))
    found = await session.scalar(query)
    if found is None:
        known = ", ".join(await session.scalars(select(MailingList.slug))) or "none yet"
        raise NotFoundError(f"no list {slug!r} (lists: {known})")
    return found


async def resolve_follows(
    session: AsyncSession, follows: Sequence[FollowSpec], where: str
) -> tuple[list[tuple[FollowSpec, Case | None]], list[Problem]]:
    """Pair each follow with its case (for case follows); problems for cases not found, each
    named where the follow itself was written (its line, column or option) when it knows."""
    resolved: list[tuple[FollowSpec, Case | None]] = []
    problems: list[Problem] = []
    for follow in follows:
        if follow.scope is Scope.CASE:
            assert follow.value is not None
            try:
                resolved.append((follow, await resolve_case(session, follow.value)))
            except NotFoundError as exc:
                problems.append(Problem(follow.where or where, follow.origin, str(exc)))
        else:
            resolved.append((follow, None))
    return resolved, problems


def _set_follows(subscriber: Subscriber, follows: list[tuple[FollowSpec, Case | None]]) -> bool:
    """Make the subscriber's subscriptions exactly `follows`; True if anything changed."""
    wanted = {}
    for follow, case in follows:
        case_id = case.id if case is not None else None
        target = target_of(follow.scope, follow.value, case_id)
        wanted[(target, follow.channel)] = (follow, case)
    current = {(s.target, s.channel): s for s in subscriber.subscriptions}
    changed = False
    for key, sub in current.items():
        if key not in wanted:
            subscriber.subscriptions.remove(sub)
            changed = True
    for key, (follow, case) in wanted.items():
        existing = current.get(key)
        if existing is None:
            subscriber.subscriptions.append(
                Subscription(
                    scope=follow.scope,
                    country=follow.value if follow.scope is Scope.COUNTRY else None,
                    case=case,
                    target=key[0],
                    cadence=follow.cadence,
                    channel=follow.channel,
                )
            )
            changed = True
        elif existing.cadence != follow.cadence:
            existing.cadence = follow.cadence
            changed = True
    return changed


def _apply(subscriber: Subscriber, spec: SubscriberSpec, settings: Settings) -> tuple[bool, bool]:
    """Copy the file's fields onto the subscriber; (changed, status kept against the file)."""
    changed = False
    kept = False
    values: dict[str, Any] = {
        "name": spec.name or subscriber.name or "",
        "locale": spec.locale or subscriber.locale or settings.default_locale,
        "time_zone": spec.time_zone or subscriber.time_zone or settings.default_time_zone,
        "telegram_chat_id": spec.telegram_chat_id
        if spec.telegram_chat_id is not None
        else subscriber.telegram_chat_id,
    }
    if spec.digest_schedule is not None:
        day, values["digest_time"] = spec.digest_schedule
        if day is not None:
            values["digest_day"] = day
    if spec.paused_until is not None:
        values["paused_until"] = spec.paused_until
    status = spec.status or subscriber.status or SubscriberStatus.ACTIVE
    if subscriber.status in STICKY and status != subscriber.status:
        kept = True
    else:
        values["status"] = status
    for name, value in values.items():
        if getattr(subscriber, name) != value:
            setattr(subscriber, name, value)
            changed = True
    return changed, kept


async def import_subscribers(
    session: AsyncSession,
    specs: Sequence[SubscriberSpec],
    settings: Settings,
    *,
    mailing_list: MailingList | None = None,
    source: MemberSource = MemberSource.IMPORT,
    consent: Consent = Consent.IMPORT,
    skip_invalid: bool = False,
) -> SubscriberImport:
    """Create or update every subscriber in `specs` (by email), optionally adding them to a
    list. Any bad row → InputError listing all of them and nothing written, unless
    `skip_invalid`, which writes the good rows and reports the bad ones in `skipped`.
    `consent` is how the people this makes active said yes, where neither the spec (an export
    of another store) nor the store has a record."""
    report = SubscriberImport()
    now = utcnow()
    by_email: dict[str, Subscriber] = {}
    emails = [s.email for s in specs if s.email]
    for start in range(0, len(emails), _CHUNK):
        chunk = emails[start : start + _CHUNK]
        query = select(Subscriber).where(Subscriber.email.in_(chunk)).options(*_load())
        by_email.update({s.email: s for s in await session.scalars(query) if s.email})
    # Who left which list themselves: no file or import puts them back.
    departed: set[tuple[int, int]] = set()
    existing = [s.id for s in by_email.values()]
    for start in range(0, len(existing), _CHUNK):
        left = await session.execute(
            select(ListDeparture.list_id, ListDeparture.subscriber_id).where(
                ListDeparture.subscriber_id.in_(existing[start : start + _CHUNK])
            )
        )
        departed.update((list_id, sid) for list_id, sid in left)
    chats = [s.telegram_chat_id for s in specs if s.telegram_chat_id is not None]
    chat_owner: dict[int, str | None] = {}
    for start in range(0, len(chats), _CHUNK):
        rows = await session.execute(
            select(Subscriber.telegram_chat_id, Subscriber.email).where(
                Subscriber.telegram_chat_id.in_(chats[start : start + _CHUNK])
            )
        )
        chat_owner.update({chat: email for chat, email in rows if chat is not None})
    lists, known = await _lists_named(session, specs)

    good: list[tuple[SubscriberSpec, list[tuple[FollowSpec, Case | None]] | None]] = []
    bad: list[Problem] = []
    for spec in specs:
        problems = list(spec.problems)
        chat = spec.telegram_chat_id
        if chat is not None and chat in chat_owner and chat_owner[chat] != spec.email:
            # The column is unique: say so here rather than fail halfway through the writes.
            problems.append(
                Problem(
                    spec.where,
                    "telegram_chat_id",
                    f"{chat} already belongs to {chat_owner[chat] or 'another subscriber'}",
                )
            )
        for slug in spec.lists or []:
            if slug not in lists:
                problems.append(Problem(spec.where, "lists", f"no list {slug!r} (lists: {known})"))
        follows = None
        if spec.follows is not None and not problems:
            follows, more = await resolve_follows(session, spec.follows, spec.where)
            problems += more
        if problems:
            bad.extend(problems)
        else:
            good.append((spec, follows))
    if bad and not skip_invalid:
        raise InputError(bad)
    report.skipped = bad

    for spec, follows in good:
        assert spec.email is not None
        subscriber = by_email.get(spec.email)
        created = subscriber is None
        if subscriber is None:
            subscriber = Subscriber(email=spec.email, subscriptions=[], memberships=[])
            session.add(subscriber)
            by_email[spec.email] = subscriber
        changed, kept = _apply(subscriber, spec, settings)
        changed = _record_consent(subscriber, spec, consent, now) or changed
        if follows is not None:
            changed = _set_follows(subscriber, follows) or changed
        if spec.lists is not None:
            wanted = [lists[slug] for slug in spec.lists]
            kept_off = [m for m in wanted if (m.id, subscriber.id) in departed]
            if kept_off:
                report.left_list.append(spec.email)
            wanted = [m for m in wanted if m not in kept_off]
            changed = _set_lists(subscriber, wanted, keep=mailing_list) or changed
        if kept:
            report.kept_status.append(spec.email)
        if created:
            report.created.append(spec.email)
        elif changed:
            report.updated.append(spec.email)
        else:
            report.unchanged.append(spec.email)
        if mailing_list is not None and (mailing_list.id, subscriber.id) in departed:
            if spec.email not in report.left_list:
                report.left_list.append(spec.email)
        elif mailing_list is not None and _join(subscriber, mailing_list, source):
            report.joined_list.append(spec.email)
    await session.flush()
    return report


async def _lists_named(
    session: AsyncSession, specs: Sequence[SubscriberSpec]
) -> tuple[dict[str, MailingList], str]:
    """The lists the specs name, by slug; and, if some do not exist, the slugs there are."""
    slugs = {slug for spec in specs for slug in spec.lists or []}
    if not slugs:
        return {}, ""
    query = select(MailingList).where(MailingList.slug.in_(slugs))
    found = {m.slug: m for m in await session.scalars(query)}
    known = ""
    if slugs - set(found):
        known = ", ".join(
            await session.scalars(select(MailingList.slug).order_by(MailingList.slug))
        )
    return found, known or "none yet"


def _record_consent(
    subscriber: Subscriber, spec: SubscriberSpec, consent: Consent, now: datetime
) -> bool:
    """The consent record: what the file says, like any other column (an export of another
    store carries its people's); else, for someone active with none, this import itself.
    True if the record changed."""
    if spec.consent is None and spec.confirmed_at is None:
        if subscriber.consent is not None or subscriber.status is not SubscriberStatus.ACTIVE:
            return False
        wanted = (consent, subscriber.confirmed_at or now)
    else:
        wanted = (
            spec.consent or subscriber.consent or consent,
            spec.confirmed_at or subscriber.confirmed_at or now,
        )
    if (subscriber.consent, subscriber.confirmed_at) == wanted:
        return False
    subscriber.consent, subscriber.confirmed_at = wanted
    return True


def _set_lists(
    subscriber: Subscriber, wanted: Sequence[MailingList], *, keep: MailingList | None
) -> bool:
    """Make the subscriber's lists exactly `wanted` (and `keep`, the list being imported
    into); a membership that stays keeps how it came. True if anything changed."""
    ids = {m.id for m in wanted} | ({keep.id} if keep is not None else set())
    changed = False
    for membership in list(subscriber.memberships):
        if membership.list_id not in ids:
            subscriber.memberships.remove(membership)
            changed = True
    for mailing_list in wanted:
        changed = _join(subscriber, mailing_list, MemberSource.IMPORT) or changed
    return changed


def _join(subscriber: Subscriber, mailing_list: MailingList, source: MemberSource) -> bool:
    """Put the subscriber on the list unless they are on it; True if they joined."""
    if any(m.list_id == mailing_list.id for m in subscriber.memberships):
        return False
    subscriber.memberships.append(
        ListMember(list_id=mailing_list.id, mailing_list=mailing_list, source=source)
    )
    return True


async def add_follows(
    session: AsyncSession, subscriber: Subscriber, follows: Sequence[FollowSpec]
) -> None:
    """Add (or change the cadence of) follows, keeping the subscriber's others."""
    resolved, problems = await resolve_follows(session, follows, "subscribers add")
    if problems:
        raise InputError(problems)
    existing: list[tuple[FollowSpec, Case | None]] = [
        (
            FollowSpec(
                s.scope, s.country if s.scope is Scope.COUNTRY else None, s.cadence, s.channel
            ),
            s.case,
        )
        for s in subscriber.subscriptions
    ]
    new_keys = {(target_of(f.scope, f.value, c.id if c else None), f.channel) for f, c in resolved}
    kept = [
        (f, c)
        for f, c in existing
        if (target_of(f.scope, f.value, c.id if c else None), f.channel) not in new_keys
    ]
    _set_follows(subscriber, kept + resolved)
    await session.flush()


async def remove_subscriber(session: AsyncSession, subscriber: Subscriber, *, erase: bool) -> None:
    """Unsubscribe from everything, Telegram included (kept, so an import cannot bring the
    address back), or erase entirely."""
    if erase:
        await erase_for(session, subscriber.id)
        # Their digest cursors too (SQLite may give the id to a newcomer).
        await session.execute(
            delete(DigestCursor).where(
                DigestCursor.digest_key.like(f"{outbox_keys.personal_digests_of(subscriber.id)}%")
            )
        )
        await session.execute(delete(Subscriber).where(Subscriber.id == subscriber.id))
    else:
        await session.refresh(subscriber, ["subscriptions"])
        await leave_everything(session, subscriber)
    await session.flush()


async def reactivate_bounced(session: AsyncSession, subscriber: Subscriber, where: str) -> None:
    """Mail a bounced address again (the person says it works now). Only a bounce is undone
    here: someone who unsubscribed comes back by their own choice (preference link, sign-up)."""
    if subscriber.status is not SubscriberStatus.BOUNCED:
        raise ConflictError.single(
            where,
            "status",
            f"{subscriber.email or subscriber.telegram_chat_id} is {subscriber.status.value}, "
            "not bounced; only a bounced address can be reactivated",
        )
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.soft_bounces, subscriber.soft_bounce_last = 0, None  # a fresh start
    await session.flush()


async def list_subscribers(
    session: AsyncSession, *, mailing_list: MailingList | None = None
) -> list[Subscriber]:
    query = select(Subscriber).options(*_load()).order_by(Subscriber.email, Subscriber.id)
    if mailing_list is not None:
        query = query.join(ListMember).where(ListMember.list_id == mailing_list.id)
    return list(await session.scalars(query))


def follow_specs(subscriber: Subscriber) -> list[FollowSpec]:
    """The subscriber's follows in file form (cases by slug)."""
    specs = []
    for sub in subscriber.subscriptions:
        value = sub.country if sub.scope is Scope.COUNTRY else (sub.case.slug if sub.case else None)
        specs.append(FollowSpec(sub.scope, value, sub.cadence, sub.channel))
    return sorted(specs, key=lambda f: f.token())
