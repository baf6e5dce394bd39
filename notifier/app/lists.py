"""Mailing lists as an administrator keeps them: apply list files, add a member."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notifier.app.access import require
from notifier.config import Settings
from notifier.domain import Consent, MemberSource
from notifier.domain.actors import Actor, Area
from notifier.domain.list_specs import ListSpec
from notifier.domain.subscriber_specs import SubscriberSpec, check_email
from notifier.errors import ConflictError, InputError
from notifier.render.templates import list_template_problems, make_environment
from notifier.store import audit
from notifier.store import lists as stored
from notifier.store.as_json import list_json
from notifier.store.engine import Store
from notifier.store.subscribers import get_list, import_subscribers


async def apply_lists(
    store: Store,
    settings: Settings,
    specs: Sequence[tuple[Path, ListSpec]],
    *,
    by: Actor,
    dry_run: bool = False,
) -> list[stored.ListChange]:
    """Make the store's lists match the list files read (`load_list_files`): what changed in
    each. Members a file added and no longer names leave; those who joined otherwise stay.
    `dry_run`: say what would change, change nothing. InputError: nothing changes (a list's
    own templates are checked too, with sample data, now rather than when a digest is due)."""
    require(by, Area.LISTS, write=True)
    for _, spec in specs:
        require(by, Area.LISTS, write=True, mailing_list=spec.slug)
    found = list_template_problems(make_environment(settings.templates_dir), specs)
    async with store.sessions() as session, session.begin():
        changes = await stored.apply_lists(session, specs, settings, found=found)
        audit.record(
            session,
            by,
            "list.apply",
            ", ".join(c.slug for c in changes),
            after={c.slug: _change(c) for c in changes if c.changed},
        )
        if dry_run:
            await session.rollback()
    return changes


def _change(change: stored.ListChange) -> dict[str, Any]:
    """What changed in one list, for the audit log: only what did."""
    made = {
        "created": change.created,
        "settings": change.settings_changed,
        "follows": change.follows_changed,
        "members_added": change.members_added,
        "members_removed": change.members_removed,
        "subscribers_updated": change.subscribers_updated,
    }
    return {k: v for k, v in made.items() if v}


@dataclass(frozen=True)
class MemberAdded:
    email: str
    #: False: they were on the list already.
    joined: bool


async def add_member(
    store: Store,
    settings: Settings,
    slug: str,
    email: str,
    *,
    by: Actor,
    name: str = "",
    where: str,
    consent: Consent,
) -> MemberAdded:
    """Put someone on a list, adding them as a subscriber if they are new (active: an
    administrator vouches for them, as `consent` records). InputError for a bad address (before
    the list is looked for), NotFoundError if there is no such list, ConflictError if they
    left it themselves (they can join again from the sign-up page). ForbiddenError: a list
    that is not the coordinator's."""
    require(by, Area.LISTS, write=True, mailing_list=slug)
    try:
        address = check_email(email)
    except ValueError as exc:
        raise InputError.single(where, "email", str(exc)) from None
    async with store.transaction() as session:
        report = await import_subscribers(
            session,
            [SubscriberSpec(where=where, email=address, name=name)],
            settings,
            mailing_list=await get_list(session, slug),
            source=MemberSource.IMPORT,
            consent=consent,
        )
        if report.left_list:
            raise ConflictError.single(
                where,
                "email",
                f"{address} left the list {slug} themselves; only they can join it again "
                "(the list's sign-up page)",
            )
        joined = bool(report.joined_list)
        audit.record(
            session,
            by,
            "list.add-member",
            f"{slug}: {address}",
            after={"member": address, "joined": joined, "created": bool(report.created)},
        )
    return MemberAdded(address, joined)


async def mailing_lists(store: Store, *, by: Actor) -> list[dict[str, Any]]:
    """Every list as `list_json` shows one, with how many members it has (a coordinator's
    own lists only)."""
    require(by, Area.LISTS)
    async with store.read() as session:
        return [
            list_json(m, n)
            for m, n in await stored.list_lists(session)
            if by.may(Area.LISTS, mailing_list=m.slug)
        ]


async def show_list(store: Store, slug: str, *, by: Actor) -> dict[str, Any]:
    """One list as `list_json` shows it, and its members: who, and how each joined."""
    require(by, Area.LISTS, mailing_list=slug)
    async with store.read() as session:
        found = await get_list(session, slug, follows=True)
        members = await stored.list_members(session, found)
        return list_json(found, len(members)) | {
            "members": [
                {"email": s.email, "name": s.name, "status": s.status.value, "source": src.value}
                for s, src in members
            ]
        }
