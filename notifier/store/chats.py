"""Telegram chats in the store: the subscriber behind a private chat and what it follows, groups
subscribed to a list's digests, and single-use codes that link a chat to a subscriber.

Every function takes a session in the caller's transaction (`store.transaction()`), as the rest
of the store does; the bot is a thin shell over these."""

from __future__ import annotations

import difflib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from notifier import locales
from notifier.config import Settings
from notifier.countries import country_name, fold
from notifier.domain import (
    Cadence,
    Channel,
    ChatStatus,
    Consent,
    Scope,
    SubscriberStatus,
    outbox_keys,
    target_of,
)
from notifier.store.models import (
    Case,
    LinkCode,
    ListChat,
    MailingList,
    Subscriber,
    Subscription,
    utcnow,
)
from notifier.store.outbox import move_chat
from notifier.store.preferences import follow_on

#: What a deep-link payload may carry (Telegram: `[A-Za-z0-9_-]`, at most 64 characters).
LINK_CODE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Load a subscriber with their follows and the cases they point at.
FOLLOWS: Final = selectinload(Subscriber.subscriptions).selectinload(Subscription.case)
#: Random bytes in a link code: 24 bytes are 32 characters, far within the 64 allowed.
LINK_CODE_BYTES: Final = 24


@dataclass(frozen=True, eq=False)
class Target:
    """What a follow points at: everything, a country (alpha-2 code) or a case."""

    scope: Scope
    country: str | None = None
    case: Case | None = None

    @classmethod
    def of_country(cls, code: str) -> Target:
        return cls(Scope.COUNTRY, country=code)

    @classmethod
    def of_case(cls, case: Case) -> Target:
        return cls(Scope.CASE, case=case)

    @property
    def key(self) -> str:
        return target_of(self.scope, self.country, self.case.id if self.case else None)

    @property
    def label(self) -> str:
        """'Kazakhstan', 'Bakhytzhan Kashkumbayev', 'every case' (plain text, not escaped)."""
        if self.scope is Scope.COUNTRY and self.country:
            return country_name(self.country)
        if self.scope is Scope.CASE and self.case is not None:
            return self.case.name
        return "every case"


def target_of_subscription(subscription: Subscription) -> Target:
    return Target(subscription.scope, subscription.country, subscription.case)


@dataclass(frozen=True)
class ChatStop:
    """What `/stop` did: follows removed, and whether the person is now unsubscribed (no email,
    nothing left) or the chat was unlinked from a subscriber who keeps their email."""

    removed: int
    unsubscribed: bool = False
    unlinked: bool = False


def locale_for(language_code: str | None, settings: Settings) -> str:
    """A Telegram user's language ('de', 'ru-RU' → 'ru') if notifier speaks it, else the
    installation's default."""
    language = locales.shipped(language_code)
    asked = (language_code or "").replace("_", "-").split("-")[0].strip().lower()
    return language if language == asked else settings.default_locale


async def chat_locale(session: AsyncSession, chat_id: int) -> str | None:
    """The language stored for a private chat's subscriber; None when the chat has none."""
    found: str | None = await session.scalar(
        select(Subscriber.locale).where(Subscriber.telegram_chat_id == chat_id)
    )
    return found


async def find_chat_subscriber(session: AsyncSession, chat_id: int) -> Subscriber | None:
    """The subscriber a private chat belongs to, follows loaded. Whoever writes to the bot has
    not blocked it (any more): a block noted earlier is lifted."""
    subscriber = await session.scalar(
        select(Subscriber).where(Subscriber.telegram_chat_id == chat_id).options(FOLLOWS)
    )
    if subscriber is not None and subscriber.telegram_blocked_at is not None:
        subscriber.telegram_blocked_at = None
    return subscriber


async def chat_subscriber(
    session: AsyncSession,
    *,
    chat_id: int,
    name: str,
    language_code: str | None,
    settings: Settings,
) -> Subscriber:
    """Find or create the subscriber of a private chat. A new one is active, has no email,
    Telegram's name for the user, and their language if it is one of ours."""
    subscriber = await find_chat_subscriber(session, chat_id)
    if subscriber is None:
        subscriber = Subscriber(
            email=None,
            name=name[:200],
            telegram_chat_id=chat_id,
            locale=locale_for(language_code, settings),
            time_zone=settings.default_time_zone,
            status=SubscriberStatus.ACTIVE,
            consent=Consent.TELEGRAM,  # they wrote to the bot themselves
            confirmed_at=utcnow(),
            subscriptions=[],
        )
        session.add(subscriber)
        await session.flush()
    return subscriber


async def set_chat_blocked(session: AsyncSession, chat_id: int, *, blocked: bool) -> None:
    """The user blocked the bot (nothing more goes to the chat) or unblocked it."""
    await session.execute(
        update(Subscriber)
        .where(Subscriber.telegram_chat_id == chat_id)
        .values(telegram_blocked_at=utcnow() if blocked else None)
    )


def telegram_follows(subscriber: Subscriber) -> list[Subscription]:
    """The subscriber's Telegram follows: everything first, then countries, then people, each
    by name."""

    def order(s: Subscription) -> tuple[int, str]:
        rank = {Scope.ALL: 0, Scope.COUNTRY: 1, Scope.CASE: 2}[s.scope]
        return rank, target_of_subscription(s).label

    return sorted((s for s in subscriber.subscriptions if s.channel is Channel.TELEGRAM), key=order)


def chat_cadence(subscriber: Subscriber) -> Cadence | None:
    """The cadence all of the chat's follows share, or None (no follows, or mixed)."""
    cadences = {s.cadence for s in telegram_follows(subscriber)}
    return cadences.pop() if len(cadences) == 1 else None


async def follow(
    session: AsyncSession, subscriber: Subscriber, target: Target, *, cadence: Cadence
) -> tuple[Subscription, bool]:
    """Follow `target` on Telegram: (the subscription, True if new). An existing follow keeps
    its cadence. A Telegram-only subscriber who had stopped is active again (one with an email
    address is not: that would resume email they unsubscribed from)."""
    if subscriber.status is SubscriberStatus.UNSUBSCRIBED and subscriber.email is None:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.consent, subscriber.confirmed_at = Consent.TELEGRAM, utcnow()
    for existing in telegram_follows(subscriber):
        if existing.target == target.key:
            return existing, False
    subscription = Subscription(
        scope=target.scope,
        country=target.country if target.scope is Scope.COUNTRY else None,
        case=target.case,
        target=target.key,
        cadence=cadence,
        channel=Channel.TELEGRAM,
    )
    subscriber.subscriptions.append(subscription)
    await session.flush()
    return subscription, True


async def unfollow(session: AsyncSession, subscriber: Subscriber, target: Target) -> bool:
    """Stop following `target` on Telegram; False if it was not followed."""
    for existing in telegram_follows(subscriber):
        if existing.target == target.key:
            subscriber.subscriptions.remove(existing)
            await session.flush()
            return True
    return False


async def set_cadence(session: AsyncSession, subscriber: Subscriber, cadence: Cadence) -> int:
    """Give every Telegram follow of the subscriber this cadence; how many there are."""
    follows = telegram_follows(subscriber)
    for subscription in follows:
        subscription.cadence = cadence
    await session.flush()
    return len(follows)


async def stop_chat(session: AsyncSession, chat_id: int) -> ChatStop:
    """`/stop`: nothing more goes to this chat. Its Telegram follows are deleted; a subscriber
    without email and with nothing else left is unsubscribed; one with an email address keeps
    it (and its email follows) but is unlinked from the chat, so list digests stop here too."""
    subscriber = await find_chat_subscriber(session, chat_id)
    if subscriber is None:
        return ChatStop(0)
    follows = telegram_follows(subscriber)
    for subscription in follows:
        subscriber.subscriptions.remove(subscription)
    unsubscribed = unlinked = False
    if subscriber.email is None:
        if not subscriber.subscriptions and subscriber.status is SubscriberStatus.ACTIVE:
            subscriber.status = SubscriberStatus.UNSUBSCRIBED
            unsubscribed = True
    else:
        subscriber.telegram_chat_id = None
        unlinked = True
    await session.flush()
    return ChatStop(len(follows), unsubscribed=unsubscribed, unlinked=unlinked)


# -- groups ----------------------------------------------------------------------------------


def telegram_enabled(mailing_list: MailingList) -> bool:
    """Whether the list is sent to Telegram at all: only such lists take groups."""
    return Channel.TELEGRAM.value in mailing_list.channels


async def find_lists(session: AsyncSession, text: str) -> list[MailingList]:
    """Lists that `text` names: by slug, by full name (any case or accents), else every list
    whose name contains all of its words."""
    lists = list(await session.scalars(select(MailingList).order_by(MailingList.name)))
    wanted = text.strip().lower()
    exact = [m for m in lists if m.slug == wanted]
    key = fold(text)
    exact = exact or [m for m in lists if fold(m.name) == key]
    if exact or not key:
        return exact
    words = set(key.split())
    return [m for m in lists if words <= set(fold(m.name).split()) | set(m.slug.split("-"))]


async def suggest_lists(session: AsyncSession, text: str, *, limit: int = 3) -> list[MailingList]:
    """Lists whose slug or name is close to `text`, for 'did you mean'."""
    lists = list(await session.scalars(select(MailingList).order_by(MailingList.name)))
    names: dict[str, MailingList] = {}
    for m in lists:
        names.setdefault(m.slug, m)
        names.setdefault(fold(m.name), m)
    near = difflib.get_close_matches(fold(text), list(names), n=limit * 2, cutoff=0.5)
    return list({names[n].id: names[n] for n in near}.values())[:limit]


async def group_locale(session: AsyncSession, chat_id: int) -> str | None:
    """The language a group reads (its lists' digests and the bot's replies); None for a group
    that was never subscribed to a list."""
    found: str | None = await session.scalar(
        select(ListChat.locale)
        .where(ListChat.chat_id == chat_id)
        .order_by(ListChat.updated_at.desc(), ListChat.list_id)
        .limit(1)
    )
    return found


async def set_group_locale(session: AsyncSession, chat_id: int, locale: str) -> int:
    """The group reads `locale` from now on, for every list it gets or got; how many rows."""
    result = await session.execute(
        update(ListChat)
        .where(ListChat.chat_id == chat_id)
        .values(locale=locale, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def subscribe_group(
    session: AsyncSession,
    *,
    chat_id: int,
    mailing_list: MailingList,
    title: str,
    added_by: int | None,
    locale: str = locales.DEFAULT,
) -> bool:
    """The group gets the list's digests in `locale`; True if it did not already (a group
    removed earlier is active again, with who subscribed it this time)."""
    row = await session.get(ListChat, (mailing_list.id, chat_id))
    title = title[:255]
    if row is None:
        session.add(
            ListChat(
                list_id=mailing_list.id,
                chat_id=chat_id,
                title=title,
                status=ChatStatus.ACTIVE,
                added_by=added_by,
                locale=locale,
            )
        )
        await session.flush()
        return True
    row.title = title
    row.locale = locale
    if row.status is ChatStatus.ACTIVE:
        await session.flush()
        return False
    row.status = ChatStatus.ACTIVE
    row.added_by = added_by
    await session.flush()
    return True


async def unsubscribe_group(
    session: AsyncSession, *, chat_id: int, mailing_list: MailingList
) -> bool:
    """The group no longer gets the list's digests; False if it did not."""
    row = await session.get(ListChat, (mailing_list.id, chat_id))
    if row is None or row.status is not ChatStatus.ACTIVE:
        return False
    row.status = ChatStatus.REMOVED
    await session.flush()
    return True


async def group_lists(session: AsyncSession, chat_id: int) -> list[MailingList]:
    """The lists a group gets, by name."""
    return list(
        await session.scalars(
            select(MailingList)
            .join(ListChat, ListChat.list_id == MailingList.id)
            .where(ListChat.chat_id == chat_id, ListChat.status == ChatStatus.ACTIVE)
            .order_by(MailingList.name)
        )
    )


async def remove_group(session: AsyncSession, chat_id: int) -> int:
    """The bot left or was removed from the group: every list it got stops. How many."""
    result = await session.execute(
        update(ListChat)
        .where(ListChat.chat_id == chat_id, ListChat.status == ChatStatus.ACTIVE)
        .values(status=ChatStatus.REMOVED, updated_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def move_group(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """A group became a supergroup with a new id: its lists follow it. How many rows moved."""
    rows = list(await session.scalars(select(ListChat).where(ListChat.chat_id == old_chat_id)))
    moved = 0
    for row in rows:
        if await session.get(ListChat, (row.list_id, new_chat_id)) is not None:
            await session.delete(row)  # already subscribed under the new id
            continue
        await session.execute(
            update(ListChat)
            .where(ListChat.list_id == row.list_id, ListChat.chat_id == old_chat_id)
            .values(chat_id=new_chat_id, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        moved += 1
    await _move_waiting_messages(session, old_chat_id, new_chat_id)
    await session.flush()
    return moved


async def _move_waiting_messages(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
    """Digests queued for the group under its old id go to the new one (else delivery finds
    no subscription under the old id and drops them); one the new id has already is dropped."""
    await move_chat(
        session, outbox_keys.chat_recipient(old_chat_id), outbox_keys.chat_recipient(new_chat_id)
    )


# -- link codes ------------------------------------------------------------------------------


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def create_link_code(
    session: AsyncSession, subscriber: Subscriber, *, ttl: timedelta, now: datetime | None = None
) -> str:
    """A fresh single-use code for `t.me/<bot>?start=<code>`: it links the chat that sends it to
    this subscriber, once, within `ttl`. Only its SHA-256 is stored; the subscriber's used and
    expired codes are cleared on the way."""
    now = now or utcnow()
    await session.execute(
        delete(LinkCode).where(
            LinkCode.subscriber_id == subscriber.id,
            or_(LinkCode.used_at.is_not(None), LinkCode.expires_at <= now),
        )
    )
    code = secrets.token_urlsafe(LINK_CODE_BYTES)
    session.add(
        LinkCode(
            code_hash=hash_code(code),
            subscriber_id=subscriber.id,
            expires_at=now + ttl,
            created_at=now,
        )
    )
    await session.flush()
    return code


async def redeem_link_code(
    session: AsyncSession, code: str, chat_id: int, *, now: datetime | None = None
) -> Subscriber | None:
    """Link the chat to the subscriber the code was made for; None if the code is unknown,
    used or expired. Another subscriber that had this chat loses it, and its Telegram follows
    move over (those the linked subscriber does not have yet); if it has no email it is left
    unsubscribed."""
    if not LINK_CODE.fullmatch(code):
        return None
    now = now or utcnow()
    # One conditional UPDATE: of two chats racing with one code, exactly one wins.
    subscriber_id = await session.scalar(
        update(LinkCode)
        .where(
            LinkCode.code_hash == hash_code(code),
            LinkCode.used_at.is_(None),
            LinkCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(LinkCode.subscriber_id)
        .execution_options(synchronize_session=False)
    )
    if subscriber_id is None:
        return None
    subscriber = await session.scalar(
        select(Subscriber).where(Subscriber.id == subscriber_id).options(FOLLOWS)
    )
    if subscriber is None:  # pragma: no cover - the code's row cascades with its subscriber
        return None
    if subscriber.telegram_chat_id != chat_id:
        previous = await find_chat_subscriber(session, chat_id)
        if previous is not None:
            have = {s.target for s in telegram_follows(subscriber)}
            for subscription in telegram_follows(previous):
                previous.subscriptions.remove(subscription)
                if subscription.target not in have:
                    subscriber.subscriptions.append(follow_on(subscription, Channel.TELEGRAM))
            previous.telegram_chat_id = None
            if previous.email is None:
                previous.status = SubscriberStatus.UNSUBSCRIBED
            await session.flush()  # the chat id is unique: free it before taking it
        subscriber.telegram_chat_id = chat_id
    subscriber.telegram_blocked_at = None
    await session.flush()
    return subscriber
