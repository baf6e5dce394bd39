"""Signing in to the console and out again, a second factor (TOTP), set-password links and
one's own password: the tasks behind the console's login pages and `notifier users
reset-password`. Counting failed attempts is the web face's (it sees the client); the rules for
passwords, sessions and codes are here."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import pyotp

from notifier import limits
from notifier.config import Settings
from notifier.domain import Role
from notifier.domain.actors import Actor
from notifier.errors import ForbiddenError, InputError, Problem
from notifier.store import audit
from notifier.store import console_sessions as kept
from notifier.store import users as stored
from notifier.store.engine import Store
from notifier.store.models import User, utcnow

#: Shorter is guessable; a passphrase of a few words passes.
PASSWORD_MIN = 12
#: What a wrong address and a wrong password both get: which one was wrong is not told.
WRONG = "that address and password do not match an account"


@cache
def _dummy_hash() -> str:
    """A hash to check a password against when the address has no account, so that an unknown
    address takes as long to refuse as a wrong password (no telling which addresses exist).
    Made on first use: hashing costs a fifth of a second, on purpose."""
    return stored.password_hash("no such user, no such password")


def actor_of(user: User) -> Actor:
    return Actor.console_user(user.email, user.role, frozenset(m.slug for m in user.lists))


def password_problems(password: str, *, where: str, field: str = "password") -> list[Problem]:
    if len(password) < PASSWORD_MIN:
        return [Problem(where, field, f"at least {PASSWORD_MIN} characters, please")]
    if len(password) > limits.PASSWORD:
        return [Problem(where, field, f"at most {limits.PASSWORD} characters")]
    if "\x00" in password:
        return [Problem(where, field, "contains a NUL character")]
    return []


def _timeouts(settings: Settings) -> kept.Timeouts:
    return kept.Timeouts(
        idle=timedelta(minutes=settings.console_idle_minutes),
        absolute=timedelta(hours=settings.console_session_hours),
    )


@dataclass(frozen=True)
class Started:
    """A new session: the browser's token, and whether a second-factor code is still due."""

    token: str
    needs_code: bool


@dataclass(frozen=True)
class SignedIn:
    """The session behind a request."""

    actor: Actor
    email: str
    session_id: int
    csrf: str
    #: False until a user with a second factor has given a code (then only /admin/code works).
    verified: bool
    has_second_factor: bool
    #: The settings require owners to set up a second factor, and this owner has none yet.
    must_set_second_factor: bool


def _clean(text: str, *, where: str, field: str, most: int) -> str:
    if "\x00" in text:
        raise InputError.single(where, field, "contains a NUL character")
    if len(text) > most:
        raise InputError.single(where, field, f"at most {most} characters")
    return text


async def sign_in(
    store: Store, email: str, password: str, *, client: str, now: datetime | None = None
) -> Started:
    """A session for the account with that address and password; InputError (WRONG, the same
    for an unknown address and a wrong password) otherwise."""
    where = "sign in"
    address = _clean(email, where=where, field="email", most=limits.EMAIL).strip().lower()
    _clean(password, where=where, field="password", most=limits.PASSWORD)
    moment = now or utcnow()
    async with store.transaction() as session:
        user = await stored.find_user(session, address)
        if user is None:
            stored.hash_matches(_dummy_hash(), password)
            raise InputError.single(where, "password", WRONG)
        if not stored.password_matches(user, password):
            raise InputError.single(where, "password", WRONG)
        needs_code = user.totp_secret is not None
        token, _ = await kept.start(
            session, user, client=client, verified=not needs_code, now=moment
        )
        audit.record(
            session, actor_of(user), "session.sign-in", user.email, after={"client": client}
        )
        return Started(token, needs_code)


async def current(
    store: Store, settings: Settings, token: str, *, now: datetime | None = None
) -> SignedIn | None:
    """The session of a browser's token; None if there is none, or it has timed out (idle or
    absolute; then it is ended)."""
    if not token or len(token) > 100:
        return None
    moment = now or utcnow()
    async with store.read() as session:
        found = await kept.find(session, token)
    if found is None:
        return None
    row, user = found
    if _timeouts(settings).expired(row, moment):
        async with store.transaction() as session:
            await kept.end_id(session, row.id)
        return None
    if kept.needs_touch(row, moment):
        async with store.transaction() as session:
            await kept.touch(session, row.id, moment)
    return SignedIn(
        actor=actor_of(user),
        email=user.email,
        session_id=row.id,
        csrf=row.csrf,
        verified=row.verified,
        has_second_factor=user.totp_secret is not None,
        must_set_second_factor=(
            settings.console_owner_totp and user.role is Role.OWNER and user.totp_secret is None
        ),
    )


async def prune_sessions(store: Store, settings: Settings, *, now: datetime | None = None) -> int:
    """Delete every timed-out session (the scheduler's daily tidy-up)."""
    async with store.transaction() as session:
        return await kept.prune(session, _timeouts(settings), now or utcnow())


def code_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step (of 30 seconds) a second-factor code was made for: the present one or
    either neighbour, for a phone whose clock is a little off; None if it is none of them."""
    if not code.isascii():  # compare_digest takes ASCII text only; no code is anything else
        return None
    totp = pyotp.TOTP(secret)
    present = totp.timecode(now or utcnow())
    for step in (present, present - 1, present + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def give_code(store: Store, token: str, code: str, *, now: datetime | None = None) -> None:
    """The second factor of a session that is waiting for it; InputError if the code is wrong
    or was used already (each code signs in once)."""
    where = "second factor"
    code = _clean(code, where=where, field="code", most=20).replace(" ", "")
    async with store.transaction() as session:
        found = await kept.find(session, token)
        if found is None:
            raise InputError.single(where, "code", "the sign-in has ended: sign in again")
        row, user = found
        step = None if user.totp_secret is None else code_step(user.totp_secret, code, now)
        if step is None:
            raise InputError.single(where, "code", "that code is not right (or too old)")
        if not await stored.take_code_step(session, user, step):
            raise InputError.single(
                where, "code", "that code was used already: wait for the next one"
            )
        await kept.mark_verified(session, row.id)
        audit.record(session, actor_of(user), "session.second-factor", user.email)


async def sign_out(store: Store, token: str) -> None:
    async with store.transaction() as session:
        await kept.end(session, token)


async def sign_out_everywhere(store: Store, by: Actor) -> int:
    """End every session of the acting user (this one too); how many there were."""
    async with store.transaction() as session:
        user = await stored.get_user(session, by.user or "")
        count = await kept.end_all(session, user)
        audit.record(session, by, "session.sign-out-everywhere", user.email, after={"ended": count})
        return count


@dataclass(frozen=True)
class SessionRow:
    client: str
    created_at: datetime
    last_seen_at: datetime
    this_one: bool


async def my_sessions(store: Store, signed: SignedIn) -> Sequence[SessionRow]:
    async with store.read() as session:
        user = await stored.get_user(session, signed.email)
        return [
            SessionRow(r.client, r.created_at, r.last_seen_at, r.id == signed.session_id)
            for r in await kept.sessions_of(session, user)
        ]


def reset_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/admin/set-password/{token}"


async def issue_reset(
    store: Store, settings: Settings, by: Actor, email: str, *, now: datetime | None = None
) -> str:
    """A one-time link that lets the user set a new password (for `hours` from now); the last
    one stops working. Owners only."""
    if not by.may_manage_users:
        raise ForbiddenError("only owners may reset a password")
    async with store.transaction() as session:
        user = await stored.get_user(session, email.strip().lower())
        token = kept.issue_reset(
            user, now or utcnow(), timedelta(hours=settings.console_reset_hours)
        )
        audit.record(session, by, "user.reset-password", user.email)
        return reset_link(settings, token)


async def reset_user(store: Store, token: str, *, now: datetime | None = None) -> str | None:
    """Whose set-password link this is, while it works (None: unknown, used or expired)."""
    if not token or len(token) > 100:
        return None
    async with store.read() as session:
        user = await kept.user_of_reset(session, token, now or utcnow())
        return None if user is None else user.email


async def set_password_with(
    store: Store, token: str, password: str, *, now: datetime | None = None
) -> str:
    """Set the password of the link's user, spend the link, end the user's sessions; the
    user's address. InputError if the link does not work or the password is too weak."""
    where = "set password"
    problems = password_problems(password, where=where)
    if problems:
        raise InputError(problems)
    async with store.transaction() as session:
        user = await kept.user_of_reset(session, token, now or utcnow())
        if user is None:
            raise InputError.single(
                where, "link", "this link has been used or has expired: ask an owner for a new one"
            )
        stored.set_password(user, password)
        kept.spend_reset(user)
        await kept.end_all(session, user)
        audit.record(session, actor_of(user), "user.set-password", user.email)
        return user.email


async def change_password(store: Store, by: Actor, current_password: str, new: str) -> None:
    """One's own password, given the current one; other sessions end."""
    where = "change password"
    problems = password_problems(new, where=where, field="new_password")
    if problems:
        raise InputError(problems)
    async with store.transaction() as session:
        user = await stored.get_user(session, by.user or "")
        if not stored.password_matches(user, current_password[: limits.PASSWORD]):
            raise InputError.single(where, "current_password", "that is not your password")
        stored.set_password(user, new)
        await kept.end_all(session, user)
        audit.record(session, by, "user.change-password", user.email)


def new_second_factor(email: str, issuer: str) -> tuple[str, str]:
    """A fresh TOTP secret and the otpauth:// address an authenticator app reads (as a QR
    code or typed in)."""
    secret = pyotp.random_base32()
    return secret, provisioning_uri(secret, email, issuer)


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


async def set_second_factor(store: Store, by: Actor, secret: str, code: str) -> None:
    """Keep `secret` as the user's second factor once a code from it proves the app has it."""
    where = "second factor"
    not_given = InputError.single(where, "secret", "not a secret this page gave")
    if len(secret) > 64 or not secret.isascii():
        raise not_given
    try:
        pyotp.TOTP(secret).now()
    except (ValueError, TypeError):  # binascii.Error is a ValueError: not base32
        raise not_given from None
    code = _clean(code, where=where, field="code", most=20).replace(" ", "")
    step = code_step(secret, code)
    if step is None:
        raise InputError.single(where, "code", "that code is not right: try the next one")
    async with store.transaction() as session:
        user = await stored.get_user(session, by.user or "")
        user.totp_secret = secret
        user.totp_last_step = step  # the code that proved it signs in no one
        audit.record(session, by, "user.second-factor-on", user.email)


async def remove_second_factor(store: Store, by: Actor, email: str) -> None:
    """Turn a user's second factor off: their own, or (owners) anyone's who lost their phone."""
    address = email.strip().lower()
    if address != by.user and not by.may_manage_users:
        raise ForbiddenError("only owners may turn off another user's second factor")
    async with store.transaction() as session:
        user = await stored.get_user(session, address)
        user.totp_secret = None
        user.totp_last_step = None
        audit.record(session, by, "user.second-factor-off", user.email)
