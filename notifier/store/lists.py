"""Mailing lists (prayer chains): apply list files, list and show them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier.config import Settings
from notifier.domain import Consent, ListOrigin, MemberSource, Scope, target_of
from notifier.domain.list_specs import ListSpec
from notifier.errors import InputError, Problem
from notifier.store.models import ListFollow, ListMember, MailingList, Subscriber
from notifier.store.subscribers import import_subscribers, resolve_follows


@dataclass
class ListChange:
    slug: str
    created: bool = False
    settings_changed: list[str] = field(default_factory=list)
    follows_changed: bool = False
    members_added: list[str] = field(default_factory=list)
    members_removed: list[str] = field(default_factory=list)
    #: Named in the file, but they left the list themselves: not put back.
    members_kept_off: list[str] = field(default_factory=list)
    subscribers_updated: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.settings_changed
            or self.follows_changed
            or self.members_added
            or self.members_removed
            or self.subscribers_updated
        )


async def find_list(session: AsyncSession, slug: str) -> MailingList | None:
    """The list with this slug, its follows loaded; None if there is none."""
    return await session.scalar(
        select(MailingList)
        .where(MailingList.slug == slug)
        .options(selectinload(MailingList.follows).selectinload(ListFollow.case))
    )


async def set_list(
    session: AsyncSession,
    mailing_list: MailingList,
    spec: ListSpec,
    where: str,
    *,
    origin: ListOrigin,
    change: ListChange,
) -> None:
    """Make the list's settings and follows what `spec` says (its members are not touched),
    noting what changed in `change`; InputError for a followed case that does not exist."""
    values = {
        "name": spec.name,
        "description": spec.description,
        "cadence": spec.cadence,
        "schedule": spec.schedule,
        "time_zone": spec.time_zone,
        "channels": [c.value for c in spec.channels],
        "protect_content": spec.protect_content,
        "template": spec.template,
        "origin": origin,
    }
    for name, value in values.items():
        if getattr(mailing_list, name, None) != value:
            setattr(mailing_list, name, value)
            if not change.created:
                change.settings_changed.append(name)

    follows, problems = await resolve_follows(session, spec.follow_specs(), where)
    if problems:
        raise InputError(problems)
    wanted = {target_of(f.scope, f.value, c.id if c else None): (f, c) for f, c in follows}
    current = {f.target: f for f in mailing_list.follows}
    for target, row in current.items():
        if target not in wanted:
            mailing_list.follows.remove(row)
            change.follows_changed = True
    for target, (follow, case) in wanted.items():
        if target not in current:
            mailing_list.follows.append(
                ListFollow(
                    scope=follow.scope,
                    country=follow.value if follow.scope is Scope.COUNTRY else None,
                    case=case,
                    target=target,
                )
            )
            change.follows_changed = True
    await session.flush()


async def create_list(
    session: AsyncSession, spec: ListSpec, where: str, *, origin: ListOrigin
) -> tuple[MailingList, ListChange]:
    """A new list as `spec` says (members aside); the caller knows the slug is free."""
    change = ListChange(spec.slug, created=True)
    mailing_list = MailingList(slug=spec.slug, follows=[])
    session.add(mailing_list)
    await set_list(session, mailing_list, spec, where, origin=origin, change=change)
    return mailing_list, change


async def _apply_one(
    session: AsyncSession, path: Path, spec: ListSpec, settings: Settings
) -> ListChange:
    change = ListChange(spec.slug)
    mailing_list = await find_list(session, spec.slug)
    if mailing_list is None:
        mailing_list = MailingList(slug=spec.slug, follows=[])
        session.add(mailing_list)
        change.created = True
    # A file naming a list made in the console takes it over: the file is its source from now.
    await set_list(session, mailing_list, spec, str(path), origin=ListOrigin.FILE, change=change)

    report = await import_subscribers(
        session,
        spec.member_specs(str(path)),
        settings,
        mailing_list=mailing_list,
        source=MemberSource.FILE,
        consent=Consent.LIST_FILE,
    )
    change.members_added = report.joined_list
    change.members_kept_off = report.left_list
    change.subscribers_updated = [e for e in report.updated if e not in report.joined_list]

    # Members the file put there and no longer names leave; those who joined otherwise stay.
    listed = {m.email for m in spec.members}
    leaving = list(
        await session.execute(
            select(Subscriber.id, Subscriber.email)
            .join(ListMember)
            .where(
                ListMember.list_id == mailing_list.id,
                ListMember.source == MemberSource.FILE,
            )
        )
    )
    gone = [(sid, email) for sid, email in leaving if email not in listed]
    if gone:
        await session.execute(
            delete(ListMember).where(
                ListMember.list_id == mailing_list.id,
                ListMember.subscriber_id.in_([sid for sid, _ in gone]),
            )
        )
        change.members_removed = sorted(str(email) for _, email in gone)
    return change


async def apply_lists(
    session: AsyncSession,
    specs: Sequence[tuple[Path, ListSpec]],
    settings: Settings,
    *,
    found: Sequence[Problem] = (),
) -> list[ListChange]:
    """Make the store's lists match the files. Idempotent: applying twice changes nothing.
    `found`: problems the caller found already (the lists' own templates, checked with sample
    data by notifier.render): reported with the store's, and nothing is applied."""
    changes = []
    problems: list[Problem] = list(found)
    for path, spec in specs:
        try:
            changes.append(await _apply_one(session, path, spec, settings))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return changes


async def list_lists(session: AsyncSession) -> list[tuple[MailingList, int]]:
    """Every list with its member count."""
    # Not dict(result): a Result has `keys()`, so dict() takes it for a mapping and fails.
    rows = await session.execute(
        select(ListMember.list_id, func.count()).group_by(ListMember.list_id)
    )
    counts = {list_id: count for list_id, count in rows}
    lists = await session.scalars(
        select(MailingList)
        .options(selectinload(MailingList.follows).selectinload(ListFollow.case))
        .order_by(MailingList.slug)
    )
    return [(m, counts.get(m.id, 0)) for m in lists]


async def list_members(
    session: AsyncSession, mailing_list: MailingList
) -> list[tuple[Subscriber, MemberSource]]:
    rows = await session.execute(
        select(Subscriber, ListMember.source)
        .join(ListMember)
        .where(ListMember.list_id == mailing_list.id)
        .order_by(Subscriber.email)
    )
    return [(s, src) for s, src in rows]
