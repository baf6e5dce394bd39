"""Compose: turn claimed outbox rows into messages for their recipients. Bodies are rendered (or
loaded) once per distinct body; per recipient only the footer and headers differ. A row that
must not go out any more (the person left, the update was withdrawn) is suppressed, with why."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import locales
from notifier.config import Settings
from notifier.countries import country_label
from notifier.domain import Channel, ChatStatus, MessageKind, Scope, SubscriberStatus, outbox_keys
from notifier.domain.messages import EmailContent, Outgoing, SharedBody, TelegramContent
from notifier.links import CONFIRM_MAX_AGE, Links
from notifier.mail_address import ascii_domain
from notifier.render.messages import Personal, RenderedBody, Renderer, shared_body
from notifier.render.telegram_html import split_telegram_html
from notifier.store.engine import Store
from notifier.store.models import (
    Body,
    Case,
    ListChat,
    ListMember,
    MailingList,
    OutboxMessage,
    Subscriber,
    Subscription,
    Update,
    utcnow,
)
from notifier.store.reach import can_reach
from notifier.store.views import case_view, update_view

log = logging.getLogger(__name__)

#: Rendered bodies kept per process (alerts by update, digests by stored body).
CACHE_SIZE = 1000
#: Rows composed between two yields to the event loop.
YIELD_EVERY = 16


@dataclass
class Composed:
    """What a batch's rows became: messages to send, rows not to send (why), rows that failed."""

    outgoing: list[tuple[Channel, Outgoing]]
    suppressed: dict[int, str]
    failed: dict[int, str]


@dataclass(frozen=True)
class Row:
    """The columns of an outbox row that composing needs (plain data, not an ORM object)."""

    id: int
    channel: Channel
    recipient: str
    subscriber_id: int | None
    kind: MessageKind
    update_id: int | None
    list_id: int | None
    body_id: int | None
    created_at: datetime
    parts_sent: int


ROW_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.channel,
    OutboxMessage.recipient,
    OutboxMessage.subscriber_id,
    OutboxMessage.kind,
    OutboxMessage.update_id,
    OutboxMessage.list_id,
    OutboxMessage.body_id,
    OutboxMessage.created_at,
    OutboxMessage.parts_sent,
)


def group_chat_of(row: Row) -> int | None:
    """The Telegram group a row goes to, for rows addressed to a group, not a person."""
    return outbox_keys.chat_of(row.recipient)


@dataclass
class Recipient:
    """What composing needs of a subscriber (plain data: loading ORM objects cost more than
    composing the message)."""

    id: int
    email: str | None
    name: str
    locale: str
    status: SubscriberStatus
    token_version: int
    telegram_chat_id: int | None
    telegram_blocked: bool
    paused_until: datetime | None
    follows: list[tuple[Scope, str | None, int | None]] = field(default_factory=list)
    #: What the follows name, for people, by scope: every case (""), a country (its code), a
    #: case (its name); `_follow_label` says them in the reader's language.
    labels: list[tuple[Scope, str]] = field(default_factory=list)
    lists: dict[int, str] = field(default_factory=dict)
    #: The prayer chain they asked to join from its page, until they confirm.
    joining: str | None = None


def _why_unreachable(channel: Channel, recipient: Recipient) -> str:
    if channel is Channel.EMAIL and recipient.email is None:
        return "no email address"
    if channel is Channel.TELEGRAM and (
        recipient.telegram_chat_id is None or recipient.telegram_blocked
    ):
        return "no Telegram chat (blocked or unlinked)"
    return f"recipient {recipient.status.value}"


def _follow_label(scope: Scope, what: str) -> str:
    """A follow as a confirmation names it, in the language spoken now: every case, a
    country's name, a case's name."""
    if scope is Scope.ALL:
        return locales._("every case")
    return country_label(what) if scope is Scope.COUNTRY else what


def reason_for(recipient: Recipient, row: Row, case: Case | None) -> str:
    """Why this person gets this message, in a few words, for the footer (in the language
    spoken now)."""
    _ = locales._
    if row.list_id is not None and row.kind is MessageKind.DIGEST:
        name = recipient.lists.get(row.list_id) or _("a prayer chain")
        return _("you are on the list “%(name)s”") % {"name": name}
    if row.kind is MessageKind.DIGEST:
        return _("you asked for a digest of the cases you follow")
    if case is not None:
        for scope, _country, case_id in recipient.follows:
            if scope is Scope.CASE and case_id == case.id:
                return _("you follow %(name)s") % {"name": case.name}
        for scope, country, _case in recipient.follows:
            if scope is Scope.COUNTRY and country == case.country:
                where = country_label(case.country)
                return _("you follow news from %(country)s") % {"country": where}
        for name in recipient.lists.values():
            return _("you are on the list “%(name)s”") % {"name": name}
    return _("you follow every case")


async def _recipients(session: AsyncSession, ids: set[int]) -> dict[int, Recipient]:
    columns = select(
        Subscriber.id,
        Subscriber.email,
        Subscriber.name,
        Subscriber.locale,
        Subscriber.status,
        Subscriber.token_version,
        Subscriber.telegram_chat_id,
        Subscriber.telegram_blocked_at,
        Subscriber.paused_until,
        Subscriber.signup_list_id,
    ).where(Subscriber.id.in_(ids))
    found: dict[int, Recipient] = {}
    joining: dict[int, int] = {}
    for (
        sid,
        email,
        name,
        locale,
        status,
        version,
        chat,
        blocked,
        paused,
        asked,
    ) in await session.execute(columns):
        found[sid] = Recipient(
            sid, email, name, locale, status, version, chat, blocked is not None, paused
        )
        if asked is not None:
            joining[sid] = asked
    if joining:
        wanted = select(MailingList.id, MailingList.name).where(
            MailingList.id.in_(set(joining.values()))
        )
        names = {list_id: name for list_id, name in await session.execute(wanted)}
        for sid, list_id in joining.items():
            found[sid].joining = names.get(list_id)
    for sid, scope, country, case_id, case_name in await session.execute(
        select(
            Subscription.subscriber_id,
            Subscription.scope,
            Subscription.country,
            Subscription.case_id,
            Case.name,
        )
        .outerjoin(Case, Case.id == Subscription.case_id)
        .where(Subscription.subscriber_id.in_(ids))
    ):
        found[sid].follows.append((scope, country, case_id))
        if scope is Scope.ALL:
            found[sid].labels.append((scope, ""))
        elif scope is Scope.COUNTRY and country:
            found[sid].labels.append((scope, country))
        elif case_name:
            found[sid].labels.append((Scope.CASE, case_name))
    for sid, list_id, name in await session.execute(
        select(ListMember.subscriber_id, ListMember.list_id, MailingList.name)
        .join(MailingList, MailingList.id == ListMember.list_id)
        .where(ListMember.subscriber_id.in_(ids))
    ):
        found[sid].lists[list_id] = name
    return found


@dataclass
class _Batch:
    """Everything the rows of one batch refer to, loaded in a handful of queries."""

    rows: list[Row]
    subscribers: dict[int, Recipient]
    updates: dict[int, tuple[Update, Case]]
    lists: dict[int, MailingList]
    chats: dict[tuple[int, int], ListChat]
    bodies: dict[int, RenderedBody]


class Composer:
    def __init__(self, settings: Settings, renderer: Renderer, links: Links) -> None:
        self.settings = settings
        self.renderer = renderer
        self.links = links
        #: The domain of Message-IDs and List-Ids, as headers carry it (A-labels).
        self.domain = ascii_domain(settings.mail_domain)
        self._id_key = links.secret.encode()
        #: How many rendered bodies each cache keeps before it starts again.
        self.cache_size = CACHE_SIZE
        self._alert_bodies: dict[tuple[object, ...], RenderedBody] = {}
        self._bodies: dict[int, RenderedBody] = {}
        self._shared: dict[str, SharedBody] = {}
        self._chunks: dict[tuple[str, bool, str], tuple[str, ...]] = {}

    async def _load(self, store: Store, ids: Sequence[int]) -> _Batch:
        async with store.read() as session:
            rows = [
                Row(*tuple(values))
                for values in await session.execute(
                    select(*ROW_COLUMNS).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
                )
            ]
            subscriber_ids = {r.subscriber_id for r in rows if r.subscriber_id is not None}
            subscribers = await _recipients(session, subscriber_ids)
            update_ids = {r.update_id for r in rows if r.update_id is not None}
            updates = {
                u.id: (u, c)
                for u, c in await session.execute(
                    select(Update, Case).join(Case).where(Update.id.in_(update_ids))
                )
            }
            # The batch keeps its own bodies: the shared cache may be emptied meanwhile (when
            # full, or by another channel's lane composing at the same time).
            needed = {r.body_id for r in rows if r.body_id is not None}
            bodies = {i: self._bodies[i] for i in needed if i in self._bodies}
            missing = needed - set(bodies)
            for stored in await session.scalars(select(Body).where(Body.id.in_(missing))):
                bodies[stored.id] = RenderedBody(
                    stored.channel, stored.subject, stored.text, stored.html
                )
            if len(self._bodies) + len(missing) > self.cache_size:
                self._bodies.clear()
            self._bodies.update(bodies)
            list_ids = {r.list_id for r in rows if r.list_id is not None}
            lists = {
                m.id: m
                for m in await session.scalars(
                    select(MailingList).where(MailingList.id.in_(list_ids))
                )
            }
            chat_ids = {c for r in rows if (c := group_chat_of(r)) is not None}
            chats = {
                (c.list_id, c.chat_id): c
                for c in await session.scalars(
                    select(ListChat).where(ListChat.chat_id.in_(chat_ids))
                )
            }
        return _Batch(rows, subscribers, updates, lists, chats, bodies)

    def _alert_body(
        self, update: Update, case: Case, channel: Channel, locale: str
    ) -> RenderedBody:
        # A corrected update or case renders afresh (the times change with every edit).
        key = (update.id, update.edited_at, case.updated_at, channel, locale)
        body = self._alert_bodies.get(key)
        if body is None:
            if len(self._alert_bodies) > self.cache_size:
                self._alert_bodies.clear()
            body = self._alert_bodies[key] = self.renderer.alert(
                case_view(case), update_view(update), channel, locale
            )
        return body

    async def compose(self, store: Store, ids: Sequence[int]) -> Composed:
        """Messages for the claimed rows; the rows that must not go out, with why; and the rows
        that could not be composed (a bug, or data no template copes with), with the error:
        those fail alone, and the rest of the batch goes."""
        batch = await self._load(store, ids)
        now = utcnow()
        composed = Composed([], {}, {})
        for index, row in enumerate(batch.rows):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                # Composing is CPU work on the loop that also drives the SMTP connections of
                # the batch being sent: let them read their replies instead of stalling.
                await asyncio.sleep(0)
            try:
                message = self._one(row, batch, now)
            except Exception as exc:
                log.exception("outbox #%d could not be composed", row.id)
                composed.failed[row.id] = f"could not be composed: {type(exc).__name__}: {exc}"
                continue
            if isinstance(message, str):
                composed.suppressed[row.id] = message
            else:
                composed.outgoing.append((row.channel, message))
        return composed

    def _one(self, row: Row, batch: _Batch, now: datetime) -> Outgoing | str:
        """The message for one row, or why it must not go out."""
        mailing_list = batch.lists.get(row.list_id or -1)
        chat = group_chat_of(row)
        if chat is not None:  # a Telegram group subscribed to a list's digest
            member = batch.chats.get((row.list_id or -1, chat))
            body = batch.bodies.get(row.body_id or -1)
            if member is None or member.status is not ChatStatus.ACTIVE:
                return "group unsubscribed"
            if body is None:
                return "digest body missing"
            protect = mailing_list.protect_content if mailing_list else False
            return self._telegram(row, chat, body, protect, group=True, locale=member.locale)
        subscriber = batch.subscribers.get(row.subscriber_id or -1)
        if row.kind is MessageKind.CONFIRM:  # the one message a pending address gets
            if subscriber is None or subscriber.email is None:
                return "recipient gone"
            if subscriber.status is SubscriberStatus.ACTIVE and subscriber.joining is None:
                return "already confirmed"
            return self._confirmation(row, subscriber)
        if subscriber is None:
            return "recipient gone"
        if not can_reach(
            row.channel,
            status=subscriber.status,
            email=subscriber.email,
            telegram_chat_id=subscriber.telegram_chat_id,
            telegram_blocked=subscriber.telegram_blocked,
        ):
            return _why_unreachable(row.channel, subscriber)
        if subscriber.paused_until is not None and subscriber.paused_until > now:
            return "recipient pausing"
        case = None
        if row.kind is MessageKind.ALERT:
            found = batch.updates.get(row.update_id or -1)
            if found is None or not found[1].published:
                return "update removed or case unpublished"
            if found[0].withdrawn_at is not None:
                return "update withdrawn"
            update, case = found
            body = self._alert_body(update, case, row.channel, subscriber.locale)
        else:
            cached = batch.bodies.get(row.body_id or -1)
            if cached is None:
                return "digest body missing"
            body = cached
        if row.channel is Channel.TELEGRAM:
            assert subscriber.telegram_chat_id is not None  # can_reach said so
            protect = mailing_list.protect_content if mailing_list else False
            return self._telegram(
                row, subscriber.telegram_chat_id, body, protect, group=False,
                locale=subscriber.locale,
            )  # fmt: skip
        return self._email(row, subscriber, body, case, mailing_list)

    def _telegram(
        self, row: Row, chat: int, body: RenderedBody, protect: bool, *, group: bool, locale: str
    ) -> Outgoing:
        # A Telegram message has no personal part, only a footer for people or one for groups:
        # split each once, whoever it goes to.
        chunks = self._chunks.get((body.digest, group, locale))
        if chunks is None:
            if len(self._chunks) > self.cache_size:
                self._chunks.clear()
            text = self.renderer.telegram_text(body, group=group, locale=locale)
            chunks = self._chunks[(body.digest, group, locale)] = tuple(split_telegram_html(text))
        return Outgoing(row.id, TelegramContent(chat, chunks, protect, skip=row.parts_sent))

    def _message_id(self, row: Row) -> str:
        """`<outbox id.token@domain>`, the token an HMAC (under the store's secret key, the one
        that signs its links) of the row's id and the moment it was created. Both are fixed
        in the row, so every retry carries the same id. Another installation has another
        key; a store recreated with the same key created its rows at other moments (to the
        microsecond). So two stores on one domain never share an id, and no clock is read."""
        moment = row.created_at.isoformat(timespec="microseconds")
        mac = hmac.new(self._id_key, f"message-id:{row.id}:{moment}".encode(), hashlib.sha256)
        token = base64.b32encode(mac.digest()[:15]).decode("ascii").lower()
        return f"<{row.id}.{token}@{self.domain}>"

    def _confirmation(self, row: Row, subscriber: Recipient) -> Outgoing:
        assert subscriber.email is not None
        if subscriber.status is SubscriberStatus.ACTIVE and subscriber.joining:
            what = subscriber.joining  # already subscribed: joining a prayer chain
        else:
            asked = [subscriber.joining] if subscriber.joining else []
            with locales.speaking(subscriber.locale):
                follows = [_follow_label(scope, what) for scope, what in subscriber.labels]
                named = [*follows, *subscriber.lists.values(), *asked]
                what = ", ".join(named) or locales._("the cases you chose")
        final = self.renderer.confirm(
            name=subscriber.name,
            what=what,
            confirm_url=self.links.confirm_url(subscriber.id, subscriber.token_version),
            valid_days=CONFIRM_MAX_AGE // 86400,
            locale=subscriber.locale,
        )
        return Outgoing(
            row.id,
            EmailContent(
                to_address=subscriber.email,
                to_name=subscriber.name,
                subject=final.subject,
                body=SharedBody(f"confirm:{row.id}", final.text, "", final.html, ""),
                text_footer="",
                html_footer="",
                message_id=self._message_id(row),
                list_id=f"{self.settings.network_name} confirmations <confirm.{self.domain}>",
                unsubscribe_url=None,
            ),
        )

    def _email(
        self,
        row: Row,
        subscriber: Recipient,
        body: RenderedBody,
        case: Case | None,
        mailing_list: MailingList | None,
    ) -> Outgoing:
        assert subscriber.email is not None
        # From a list's digest, the link names the list: its page offers to leave only that.
        from_list = row.list_id if row.kind is MessageKind.DIGEST else None
        unsubscribe = self.links.unsubscribe_url(subscriber.id, subscriber.token_version, from_list)
        web_url = self.links.digest_url(row.body_id) if row.body_id is not None else ""
        language = subscriber.locale
        with locales.speaking(language):
            reason = reason_for(subscriber, row, case)
        personal = Personal(
            name=subscriber.name,
            email=subscriber.email,
            reason=reason,
            unsubscribe_url=unsubscribe,
            preferences_url=self.links.preferences_url(subscriber.id, subscriber.token_version),
            web_url=web_url,
            locale=language,
        )
        text_footer, html_footer = self.renderer.footers(personal)
        shared = self._shared.get(body.digest)
        if shared is None:
            if len(self._shared) > self.cache_size:
                self._shared.clear()
            shared = self._shared[body.digest] = shared_body(body, web_url)
        network = self.settings.network_name
        if mailing_list is not None:
            list_id = f"{mailing_list.name} <{mailing_list.slug}.{self.domain}>"
        elif row.kind is MessageKind.DIGEST:  # a reader's own daily or weekly digest
            list_id = f"{network} digests <digests.{self.domain}>"
        else:
            list_id = f"{network} alerts <alerts.{self.domain}>"
        return Outgoing(
            row.id,
            EmailContent(
                to_address=subscriber.email,
                to_name=subscriber.name,
                subject=body.subject,
                body=shared,
                text_footer=text_footer,
                html_footer=html_footer,
                message_id=self._message_id(row),
                list_id=list_id,
                unsubscribe_url=unsubscribe,
            ),
        )
