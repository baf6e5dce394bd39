"""Console accounts: add, find, list, change a role and its lists, set a password, remove.
Passwords are hashed here, with Argon2id (argon2-cffi's defaults: memory-hard, salted), and
never stored, returned or logged in clear."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier.domain import Role
from notifier.errors import ConflictError, NotFoundError
from notifier.store.models import MailingList, User

#: How new passwords are hashed: argon2-cffi's defaults (Argon2id, 64 MiB, 3 passes: about
#: 0.2 s here, on purpose). A hash keeps its own parameters, so checking one uses those.
HASHER = PasswordHasher()


def password_hash(password: str) -> str:
    return HASHER.hash(password)


def password_matches(user: User, password: str) -> bool:
    """Whether `password` is the user's (False when none is set)."""
    return user.password_hash is not None and hash_matches(user.password_hash, password)


def hash_matches(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def find_user(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(
        select(User).where(User.email == email).options(selectinload(User.lists))
    )


async def get_user(session: AsyncSession, email: str) -> User:
    user = await find_user(session, email)
    if user is None:
        raise NotFoundError(f"no user {email!r}")
    return user


async def add_user(
    session: AsyncSession,
    email: str,
    role: Role,
    lists: Sequence[MailingList],
    *,
    password: str | None = None,
    where: str,
) -> User:
    """A new account; ConflictError if the address has one already."""
    if await find_user(session, email) is not None:
        raise ConflictError.single(where, "email", f"{email} has an account already")
    user = User(
        email=email,
        role=role,
        lists=list(lists),
        password_hash=password_hash(password) if password is not None else None,
    )
    session.add(user)
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list(
        await session.scalars(select(User).options(selectinload(User.lists)).order_by(User.email))
    )


async def owner_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(User).where(User.role == Role.OWNER))
        or 0
    )


def set_role(user: User, role: Role, lists: Sequence[MailingList]) -> None:
    """The user's role, and the lists they coordinate (none unless a coordinator)."""
    user.role = role
    user.lists = list(lists) if role is Role.COORDINATOR else []


def set_password(user: User, password: str) -> None:
    user.password_hash = password_hash(password)


async def take_code_step(session: AsyncSession, user: User, step: int) -> bool:
    """Record that a second-factor code of time step `step` was used; False if that step or a
    later one was used already (the code is spent). One conditional UPDATE, so two sign-ins
    racing with the same code cannot both have it, on PostgreSQL as on SQLite."""
    taken = await session.execute(
        update(User)
        .where(User.id == user.id)
        .where(or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(taken, "rowcount", 0))


async def remove_user(session: AsyncSession, user: User) -> None:
    await session.execute(delete(User).where(User.id == user.id))
