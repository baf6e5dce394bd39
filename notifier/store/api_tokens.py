"""Per-user API tokens: made here, shown once in clear, stored only as their SHA-256 (hex), so
a copy of the store gives no one a working token. A token acts with its user's role."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier.errors import ConflictError, NotFoundError
from notifier.store.models import ApiToken, User

#: What every user token starts with: a leaked one is recognisable (secret scanners, logs).
PREFIX = "ntf_"
#: last_used_at is written at most this often per token, not on every request.
USE_NOTED_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def create(
    session: AsyncSession, user: User, name: str, *, where: str
) -> tuple[ApiToken, str]:
    """A new token for `user` named `name` (ConflictError if they have one by that name): the
    row, and the token in clear, which is never stored and cannot be shown again."""
    taken = await session.scalar(
        select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.name == name)
    )
    if taken is not None:
        raise ConflictError.single(where, "name", f"you have a token named {name!r} already")
    clear = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=token_hash(clear))
    session.add(row)
    await session.flush()
    return row, clear


async def find(session: AsyncSession, token: str) -> tuple[ApiToken, User] | None:
    """The token given in clear, and its user with their lists; None if there is no such token
    (or it does not look like one)."""
    if not token.startswith(PREFIX):
        return None
    found = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash(token))
            .options(selectinload(User.lists))
        )
    ).first()
    return None if found is None else (found[0], found[1])


async def note_use(session: AsyncSession, token: ApiToken, now: datetime) -> bool:
    """Set last_used_at to `now` if it is older than USE_NOTED_EVERY (True if written)."""
    if token.last_used_at is not None and now - token.last_used_at < USE_NOTED_EVERY:
        return False
    await session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return True


async def user_tokens(
    session: AsyncSession, user: User | None = None
) -> list[tuple[ApiToken, str]]:
    """Each token (of `user`, or everyone's) with its user's email, newest first."""
    query = (
        select(ApiToken, User.email)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
    )
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return [(t, e) for t, e in (await session.execute(query)).all()]


async def get(session: AsyncSession, token_id: int) -> tuple[ApiToken, str]:
    found = (
        await session.execute(
            select(ApiToken, User.email)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.id == token_id)
        )
    ).first()
    if found is None:
        raise NotFoundError(f"no API token {token_id}")
    return found[0], found[1]


async def revoke(session: AsyncSession, token: ApiToken) -> None:
    await session.delete(token)
    await session.flush()
