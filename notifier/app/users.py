"""Console accounts, as an owner keeps them: add, list, change a role, remove. The same
functions serve `notifier users …` now and the console's Users page next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notifier import limits
from notifier.app.access import require
from notifier.domain import Role
from notifier.domain.actors import Actor, Area
from notifier.domain.subscriber_specs import check_email
from notifier.errors import ConflictError, InputError, Problem
from notifier.store import audit
from notifier.store import users as stored
from notifier.store.engine import Store
from notifier.store.models import MailingList, User
from notifier.store.subscribers import get_list

#: Shorter is guessable; a passphrase of a few words passes.
PASSWORD_MIN = 12


def check_user(
    email: str, role: str, lists: Sequence[str], password: str | None, *, where: str
) -> tuple[str, Role]:
    """The address and role, checked with the lists and password before the store is opened:
    every problem named (email, role, lists, password)."""
    problems = []
    address = email
    try:
        address = check_email(email)
    except ValueError as exc:
        problems.append(Problem(where, "email", str(exc)))
    chosen = next((r for r in Role if r.value == role.strip().lower()), None)
    if chosen is None:
        allowed = ", ".join(r.value for r in Role)
        problems.append(Problem(where, "role", f"{role!r}: one of {allowed}"))
    elif chosen is Role.COORDINATOR and not lists:
        problems.append(Problem(where, "list", "a coordinator needs the lists they run"))
    elif chosen is not Role.COORDINATOR and lists:
        problems.append(Problem(where, "list", f"only coordinators have lists, not {role}"))
    if password is not None:
        if len(password) < PASSWORD_MIN:
            problems.append(
                Problem(where, "password", f"at least {PASSWORD_MIN} characters, please")
            )
        elif len(password) > limits.PASSWORD:
            problems.append(Problem(where, "password", f"at most {limits.PASSWORD} characters"))
        elif "\x00" in password:
            problems.append(Problem(where, "password", "contains a NUL character"))
    if problems or chosen is None:
        raise InputError(problems)
    return address, chosen


def user_row(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "role": user.role.value,
        "lists": [m.slug for m in user.lists],
        "password": "set" if user.password_hash is not None else "not set",
        "created_at": user.created_at.isoformat(),
    }


async def _lists(session: AsyncSession, slugs: Sequence[str]) -> list[MailingList]:
    return [await get_list(session, slug) for slug in dict.fromkeys(slugs)]


async def add_user(
    store: Store,
    email: str,
    role: str,
    lists: Sequence[str] = (),
    *,
    by: Actor,
    password: str | None = None,
    where: str,
) -> dict[str, Any]:
    """A new account (InputError naming each bad field, NotFoundError for a list that does not
    exist, ConflictError if the address has an account). Its row, without the password."""
    require(by, Area.USERS, write=True)
    address, chosen = check_user(email, role, lists, password, where=where)
    async with store.transaction() as session:
        user = await stored.add_user(
            session, address, chosen, await _lists(session, lists), password=password, where=where
        )
        row = user_row(user)
        audit.record(session, by, "user.add", address, after=_audited(row))
        return row


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of an account: its role and lists (and whether it has a
    password, never the password)."""
    return {k: row[k] for k in ("role", "lists", "password")}


async def users(store: Store) -> list[dict[str, Any]]:
    async with store.read() as session:
        return [user_row(u) for u in await stored.list_users(session)]


async def _not_the_last_owner(session: AsyncSession, user: User, *, where: str) -> None:
    """ConflictError if `user` is the only owner: someone must be left to manage the users."""
    if user.role is Role.OWNER and await stored.owner_count(session) == 1:
        raise ConflictError.single(
            where, "role", f"{user.email} is the only owner: make someone else an owner first"
        )


async def set_role(
    store: Store, email: str, role: str, lists: Sequence[str] = (), *, by: Actor, where: str
) -> dict[str, Any]:
    """Change what the account may do (a coordinator's lists with it)."""
    require(by, Area.USERS, write=True)
    address, chosen = check_user(email, role, lists, None, where=where)
    async with store.transaction() as session:
        user = await stored.get_user(session, address)
        if chosen is not Role.OWNER:
            await _not_the_last_owner(session, user, where=where)
        before = _audited(user_row(user))
        stored.set_role(user, chosen, await _lists(session, lists))
        await session.flush()
        row = user_row(user)
        was, now = audit.changes(before, _audited(row))
        audit.record(session, by, "user.set-role", address, before=was, after=now)
        return row


async def remove_user(store: Store, email: str, *, by: Actor) -> None:
    require(by, Area.USERS, write=True)
    async with store.transaction() as session:
        user = await stored.get_user(session, email.strip().lower())
        await _not_the_last_owner(session, user, where="users remove")
        before = _audited(user_row(user))
        await stored.remove_user(session, user)
        audit.record(session, by, "user.remove", user.email, before=before)
