"""Per-user API tokens, as a console user keeps theirs: make one (shown once), list them,
revoke one. A token acts with its user's role (a coordinator's only on their lists)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifier import limits
from notifier.domain import Role
from notifier.domain.actors import Actor
from notifier.errors import ForbiddenError, InputError, NotFoundError
from notifier.store import api_tokens as stored
from notifier.store import audit
from notifier.store.engine import Store
from notifier.store.users import get_user


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    #: The email of the user the token acts as.
    user: str
    created_at: datetime
    last_used_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def check_token_name(name: str, *, where: str) -> str:
    """The name, stripped; InputError if empty, too long or holding a NUL."""
    name = name.strip()
    if not name:
        raise InputError.single(where, "name", "a token needs a name (what uses it)")
    if len(name) > limits.TOKEN_NAME:
        raise InputError.single(where, "name", f"at most {limits.TOKEN_NAME} characters")
    if "\x00" in name:
        raise InputError.single(where, "name", "contains a NUL character")
    return name


def _user(by: Actor) -> str:
    if by.user is None:
        raise ForbiddenError(f"{by.label} is no console user: API tokens belong to users")
    return by.user


async def create_token(
    store: Store, by: Actor, name: str, *, where: str = "token"
) -> tuple[TokenRow, str]:
    """A new token for the user acting, and the token in clear (shown this once, never
    stored). InputError for a bad name, ConflictError if they have a token by that name."""
    email = _user(by)
    name = check_token_name(name, where=where)
    async with store.transaction() as session:
        user = await get_user(session, email)
        row, clear = await stored.create(session, user, name, where=where)
        audit.record(session, by, "token.create", f"{name} ({email})", after={"name": name})
        return TokenRow(row.id, row.name, email, row.created_at, row.last_used_at), clear


async def tokens(store: Store, by: Actor) -> list[TokenRow]:
    """The acting user's own tokens; an owner's (or the CLI's, or the configured token's):
    everyone's."""
    async with store.read() as session:
        user = await get_user(session, by.user) if by.user is not None else None
        if user is None and by.role is not Role.OWNER:
            raise ForbiddenError(f"{by.label} has no tokens")
        owner = by.role is Role.OWNER
        found = await stored.user_tokens(session, None if owner else user)
        return [TokenRow(t.id, t.name, e, t.created_at, t.last_used_at) for t, e in found]


async def revoke_token(store: Store, by: Actor, token_id: int) -> None:
    """Revoke one of the acting user's tokens (an owner may revoke anyone's). NotFoundError if
    there is no such token, or it is someone else's (which is not said)."""
    async with store.transaction() as session:
        token, email = await stored.get(session, token_id)
        if by.role is not Role.OWNER and email != by.user:
            raise NotFoundError(f"no API token {token_id}")
        audit.record(
            session, by, "token.revoke", f"{token.name} ({email})", before={"name": token.name}
        )
        await stored.revoke(session, token)


async def token_actor(store: Store, token: str, *, now: datetime) -> Actor | None:
    """Who a user's API token acts as (their role, a coordinator's lists); None for a token
    that is no one's. Notes when it was used, at most once a minute per token: a request is
    a read, not a write."""
    if not token.startswith(stored.PREFIX) or len(token) > 200 or "\x00" in token:
        return None
    async with store.read() as session:
        found = await stored.find(session, token)
        if found is None:
            return None
        row, user = found
        actor = Actor.user_token(
            row.name, user.email, user.role, frozenset(m.slug for m in user.lists)
        )
        stale = row.last_used_at is None or now - row.last_used_at >= stored.USE_NOTED_EVERY
    if stale:
        async with store.transaction() as session:
            await stored.note_use(session, row, now)
    return actor
