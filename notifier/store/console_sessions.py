"""Console sessions and set-password links, kept in the store so that logging out, "sign out
everywhere" and removing a user end them at once, in every process. The browser holds a random
token; the store keeps only its SHA-256, so a copy of the database signs no one in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier.store.models import ConsoleSession, User

#: A session's last request is written at most this often (not a write per page).
TOUCH_EVERY = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta

    def expired(self, row: ConsoleSession, now: datetime) -> bool:
        return now - row.last_seen_at > self.idle or now - row.created_at > self.absolute


async def start(
    session: AsyncSession, user: User, *, client: str, verified: bool, now: datetime
) -> tuple[str, ConsoleSession]:
    """A new session for `user`: the browser's token (clear, given once) and its row."""
    token = new_token()
    row = ConsoleSession(
        token_hash=digest(token),
        user_id=user.id,
        csrf=secrets.token_urlsafe(32),
        verified=verified,
        created_at=now,
        last_seen_at=now,
        client=client[:100],
    )
    session.add(row)
    await session.flush()
    return token, row


async def find(session: AsyncSession, token: str) -> tuple[ConsoleSession, User] | None:
    """The session of a browser's token and its user (timeouts are the caller's to judge: a
    read needs no write lock)."""
    row = await session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == digest(token))
    )
    if row is None:
        return None
    user = await session.scalar(
        select(User).where(User.id == row.user_id).options(selectinload(User.lists))
    )
    return None if user is None else (row, user)


def needs_touch(row: ConsoleSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


async def touch(session: AsyncSession, session_id: int, now: datetime) -> None:
    await session.execute(
        update(ConsoleSession).where(ConsoleSession.id == session_id).values(last_seen_at=now)
    )


async def mark_verified(session: AsyncSession, session_id: int) -> None:
    await session.execute(
        update(ConsoleSession).where(ConsoleSession.id == session_id).values(verified=True)
    )


async def end_id(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


async def end(session: AsyncSession, token: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == digest(token)))


async def end_all(session: AsyncSession, user: User) -> int:
    """End every session of the user (sign out everywhere); how many there were."""
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


async def sessions_of(session: AsyncSession, user: User) -> list[ConsoleSession]:
    return list(
        await session.scalars(
            select(ConsoleSession)
            .where(ConsoleSession.user_id == user.id)
            .order_by(ConsoleSession.last_seen_at.desc())
        )
    )


def issue_reset(user: User, now: datetime, lifetime: timedelta) -> str:
    """A one-time set-password token for the user (the clear token; only its hash is kept).
    A new one replaces the last."""
    token = new_token()
    user.reset_hash = digest(token)
    user.reset_expires_at = now + lifetime
    return token


async def user_of_reset(session: AsyncSession, token: str, now: datetime) -> User | None:
    """The user a set-password token is for, while it works."""
    user = await session.scalar(
        select(User).where(User.reset_hash == digest(token)).options(selectinload(User.lists))
    )
    if user is None or user.reset_expires_at is None or user.reset_expires_at < now:
        return None
    return user


def spend_reset(user: User) -> None:
    user.reset_hash = None
    user.reset_expires_at = None


async def prune(session: AsyncSession, timeouts: Timeouts, now: datetime) -> int:
    """Delete the sessions that have timed out (no one will come back with them)."""
    result = await session.execute(
        delete(ConsoleSession).where(
            (ConsoleSession.last_seen_at < now - timeouts.idle)
            | (ConsoleSession.created_at < now - timeouts.absolute)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
