"""SQLAlchemy models. Every enum is a closed set, stored as text with a CHECK constraint."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeDecorator

from notifier.domain.vocabulary import (
    Cadence as Cadence,
)
from notifier.domain.vocabulary import (
    CaseStatus as CaseStatus,
)
from notifier.domain.vocabulary import (
    Channel as Channel,
)
from notifier.domain.vocabulary import (
    ChatStatus as ChatStatus,
)
from notifier.domain.vocabulary import (
    Consent as Consent,
)
from notifier.domain.vocabulary import (
    ListOrigin as ListOrigin,
)
from notifier.domain.vocabulary import (
    MemberSource as MemberSource,
)
from notifier.domain.vocabulary import (
    MessageKind as MessageKind,
)
from notifier.domain.vocabulary import (
    OutboxStatus as OutboxStatus,
)
from notifier.domain.vocabulary import (
    Role,
)
from notifier.domain.vocabulary import (
    Scope as Scope,
)
from notifier.domain.vocabulary import (
    Severity as Severity,
)
from notifier.domain.vocabulary import (
    SubscriberStatus as SubscriberStatus,
)
from notifier.domain.vocabulary import (
    target_of as target_of,
)

# Stable constraint names, so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database. SQLite keeps no offset,
    so values are stored as UTC and compare correctly as text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: notifier stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def dialect_only(dialect: str) -> Callable[..., bool]:
    """An Alembic `include_object` for a database of `dialect`: leaves out of the comparison
    of models and database the indexes made for another dialect only (`Index.ddl_if`), which
    Alembic does not know of (the trigram indexes of PostgreSQL's search, on SQLite)."""

    def include(
        obj: object, name: str | None, type_: str, reflected: bool, compare: object
    ) -> bool:
        only = getattr(obj, "_ddl_if", None)
        return type_ != "index" or only is None or only.dialect in (None, dialect)

    return include


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=40,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    spellings: Mapped[list[str]] = mapped_column(JSON, default=list)
    country: Mapped[str] = mapped_column(String(2), index=True)
    role: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    summary: Mapped[str] = mapped_column(Text, default="")
    letter_address: Mapped[str | None] = mapped_column(Text)
    letter_guidance: Mapped[str | None] = mapped_column(Text)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    prayer: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The summary, prayer, actions' texts and letter guidance in other languages, by language
    #: tag: {"de": {"summary": …, "actions": [one text per action], …}} (domain.translations).
    translations: Mapped[dict[str, dict[str, Any]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    updates: Mapped[list[Update]] = relationship(
        back_populates="case", order_by="Update.event_date", cascade="all, delete-orphan"
    )


class Update(Base):
    __tablename__ = "updates"
    # AUTOINCREMENT on SQLite: an id is never reused, so the watcher's cursor only moves forward.
    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    #: Stable key within the case, so importing the same update twice does not duplicate it.
    key: Mapped[str] = mapped_column(String(200))
    event_date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    source_name: Mapped[str | None] = mapped_column(String(200))
    source_url: Mapped[str | None] = mapped_column(String(1000))
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "severity"), default=Severity.NORMAL)
    #: False for history loaded with a new case: kept and shown, but never alerted or digested.
    announce: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When its text was last corrected (`updates edit`, or a case file that changed it).
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When an administrator withdrew it: nothing more goes out about it, and it is not shown.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Each field as the case file last gave it (a short hash per field), so importing the
    #: file again changes only what the file changed and keeps corrections made meanwhile
    #: (`updates edit`, the API). None: never imported (nor corrected) since it was kept.
    imported_fields: Mapped[dict[str, str] | None] = mapped_column(JSON)
    #: The title and body in other languages, by language tag: {"de": {"title": …, "body": …}}.
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )

    case: Mapped[Case] = relationship(back_populates="updates")


def new_token_version() -> int:
    """A random first token version: 2 … 2**31 - 1 (1 is what rows from before had)."""
    return secrets.randbelow(2**31 - 2) + 2


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        # The few chats that blocked the bot, counted without reading every subscriber.
        Index(
            "ix_subscribers_telegram_blocked",
            "telegram_blocked_at",
            sqlite_where=text("telegram_blocked_at IS NOT NULL"),
            postgresql_where=text("telegram_blocked_at IS NOT NULL"),
        ),
        # The console's text search (part of an address or a name) on PostgreSQL: trigram
        # indexes (pg_trgm) serve LIKE / ILIKE '%text%' instead of a scan of every subscriber.
        # PostgreSQL only (SQLite scans, under budget); made by migration 0024 when the server
        # lets it create the extension. See `dialect_only`.
        *(
            Index(
                f"ix_subscribers_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            ).ddl_if(dialect="postgresql")
            for column in ("email", "name")
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    locale: Mapped[str] = mapped_column(String(20), default="en")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: When personal daily / weekly digests go out, in `time_zone`: "07:00" and 0 = Monday.
    digest_time: Mapped[str] = mapped_column(String(5), default="07:00", server_default="07:00")
    digest_day: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: In every signed link (unsubscribe, preferences); bumped to revoke those issued so far.
    #: Random for a new subscriber, so a link of an erased subscriber whose id came round
    #: again (SQLite reuses the highest id) does not open the newcomer's.
    token_version: Mapped[int] = mapped_column(
        Integer, default=new_token_version, server_default="1"
    )
    #: Set when Telegram said the user blocked the bot: nothing more goes to that chat.
    telegram_blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: "Pause for a while": nothing is sent before then, and what comes meanwhile is not sent
    #: later as alerts (a digest after the pause covers it).
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Days with a temporary failure reported for the address (mailbox full, …), counted
    #: while they keep coming; enough of them and the address counts as bounced.
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    soft_bounce_last: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Someone who had unsubscribed asked to come back (the sign-up form): nothing changes
    #: until the confirmation link is used; then the list they asked to join, if any.
    signup_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signup_list_id: Mapped[int | None] = mapped_column(Integer)
    #: When and how they last said yes (None: before notifier kept this, or not yet).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent: Mapped[Consent | None] = mapped_column(_enum(Consent, "consent"))
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus, "subscriber_status"), default=SubscriberStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", order_by="Subscription.id"
    )
    memberships: Mapped[list[ListMember]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )


class Subscription(Base):
    """What one subscriber follows, how often, on which channel."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "target", "channel"),
        # "Who follows this country / this case / everything": each one index range scan.
        Index("ix_subscriptions_country_follow", "country", "subscriber_id"),
        Index("ix_subscriptions_case_follow", "case_id", "subscriber_id"),
        Index(
            "ix_subscriptions_all_follow",
            "subscriber_id",
            sqlite_where=text("scope = 'all'"),
            postgresql_where=text("scope = 'all'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    scope: Mapped[Scope] = mapped_column(_enum(Scope, "scope"))
    country: Mapped[str | None] = mapped_column(String(2))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(40))
    cadence: Mapped[Cadence] = mapped_column(_enum(Cadence, "cadence"), default=Cadence.INSTANT)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), default=Channel.EMAIL)
    #: A first digest covers updates entered since the subscription began, not all history.
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    case: Mapped[Case | None] = relationship()


class MailingList(Base):
    """A prayer chain: what it follows, when its digest goes out, on which channels."""

    __tablename__ = "mailing_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    cadence: Mapped[Cadence] = mapped_column(_enum(Cadence, "cadence"), default=Cadence.WEEKLY)
    #: e.g. "mon 07:00" (weekly) or "07:00" (daily), in `time_zone`.
    schedule: Mapped[str] = mapped_column(String(40), default="mon 07:00")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Telegram messages of this list cannot be forwarded or saved (lists serving people in
    #: hostile countries ask for this).
    protect_content: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    #: The list's own digest templates (`lists/<template>/…` under templates_dir), if any.
    template: Mapped[str | None] = mapped_column(String(60))
    #: Where its settings are kept: a list file (the console shows them read-only) or the
    #: console. Lists from before the console all came from files.
    origin: Mapped[ListOrigin] = mapped_column(
        _enum(ListOrigin, "list_origin"), default=ListOrigin.FILE, server_default="file"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    follows: Mapped[list[ListFollow]] = relationship(
        back_populates="mailing_list", cascade="all, delete-orphan", order_by="ListFollow.id"
    )
    members: Mapped[list[ListMember]] = relationship(
        back_populates="mailing_list", cascade="all, delete-orphan"
    )


class ListChat(Base):
    """A Telegram group subscribed to a list's digests by one of its admins."""

    __tablename__ = "list_chats"
    __table_args__ = (Index("ix_list_chats_chat", "chat_id"),)

    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[ChatStatus] = mapped_column(
        _enum(ChatStatus, "chat_status"), default=ChatStatus.ACTIVE
    )
    #: The Telegram user (a group admin) who subscribed the group.
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    #: The language the group reads the list's digests and the bot's replies in.
    locale: Mapped[str] = mapped_column(String(20), default="en", server_default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    mailing_list: Mapped[MailingList] = relationship()


class ListFollow(Base):
    __tablename__ = "list_follows"
    __table_args__ = (
        UniqueConstraint("list_id", "target"),
        Index("ix_list_follows_country_follow", "country", "list_id"),
        Index("ix_list_follows_case_follow", "case_id", "list_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id", ondelete="CASCADE"))
    scope: Mapped[Scope] = mapped_column(_enum(Scope, "scope"))
    country: Mapped[str | None] = mapped_column(String(2))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(40))

    mailing_list: Mapped[MailingList] = relationship(back_populates="follows")
    case: Mapped[Case | None] = relationship()


class ListMember(Base):
    __tablename__ = "list_members"
    __table_args__ = (
        Index("ix_list_members_subscriber", "subscriber_id", "list_id"),
        # A list's members who joined lately (the dashboard's last 30 days): a range scan.
        Index("ix_list_members_joined", "list_id", "joined_at"),
    )

    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    #: Where the membership came from: the list file, an import, or the subscriber.
    source: Mapped[MemberSource] = mapped_column(_enum(MemberSource, "member_source"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    mailing_list: Mapped[MailingList] = relationship(back_populates="members")
    subscriber: Mapped[Subscriber] = relationship(back_populates="memberships")


class User(Base):
    """Someone who runs notifier from the console (or its API): an owner, an editor, or a
    coordinator of the lists named for them. The password is kept only as an Argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    #: Argon2id, with its parameters and salt (argon2-cffi's encoded form); None until set.
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    #: A TOTP second factor's secret (base32), once the user has confirmed it; None: none.
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The time step (30-second count since 1970) of the last code taken from it: a code is
    #: taken once, so one seen over a shoulder or in a log cannot sign in again.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    #: A one-time set-password link's token, as its SHA-256 (hex), and when it stops working.
    reset_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    reset_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    lists: Mapped[list[MailingList]] = relationship(
        secondary="user_lists", order_by="MailingList.slug"
    )


class ConsoleSession(Base):
    """A signed-in console session, kept here so logout and "sign out everywhere" end it for
    good. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The form token of this session (CSRF): every form posts it back.
    csrf: Mapped[str] = mapped_column(String(64))
    #: False until a user with a second factor has given its code.
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The client's address when it signed in (shown on the user's sessions).
    client: Mapped[str] = mapped_column(String(100), default="")


class ApiToken(Base):
    """A user's own token for /api, acting with the user's role. Shown once; only its SHA-256
    is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class AuditEntry(Base):
    """One write, by whom: a console user, an API token or the CLI's operating-system user
    (notifier.domain.actors.Actor.label), what it did to what, and a before/after summary."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(500), index=True)
    #: What was done, as `area.verb` (e.g. `case.edit`, `list.send-now`, `user.add`).
    action: Mapped[str] = mapped_column(String(60))
    #: What it was done to, for people (a case's slug, an update's id, an address, a list).
    target: Mapped[str] = mapped_column(String(400), default="")
    #: {"before": {...}, "after": {...}}: the fields that changed, or what was made or removed.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class UserList(Base):
    """A list a coordinator coordinates."""

    __tablename__ = "user_lists"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True
    )


class ListDigest(Base):
    """A list's digest as it was built, per channel: its archive in the console (when, to how
    many, its web copy), kept when the outbox rows it counts are pruned."""

    __tablename__ = "list_digests"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True
    )
    #: The period's key ('2026-11-30T02:00Z'), as its outbox rows' key ends.
    period: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), primary_key=True)
    body_id: Mapped[int] = mapped_column(Integer)
    #: Messages queued: one per member reachable on the channel (and per Telegram group).
    recipients: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ListDeparture(Base):
    """Someone who left a list themselves (its digest's unsubscribe link, the preference page):
    the list file or an import that still names them does not put them back. Joining again
    by themselves (the sign-up form) ends it."""

    __tablename__ = "list_departures"
    __table_args__ = (Index("ix_list_departures_left", "list_id", "left_at"),)

    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    left_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Cursor(Base):
    """A named position that only moves forward, e.g. the last update the watcher matched."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DigestCursor(Base):
    """Per digest (a list's, or one subscriber's per cadence and channel): the last period built
    and the last update it covered. The next digest covers updates after `through_update_id`."""

    __tablename__ = "digest_cursors"

    digest_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    period: Mapped[str] = mapped_column(String(40))
    through_update_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Body(Base):
    """A rendered digest body, shared by every recipient who gets the same one (content-addressed).
    The personal part (greeting, links) is added per recipient at delivery."""

    __tablename__ = "bodies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    #: The whole digest, for its web copy, when `html` (the email's) shows only the headlines
    #: of its last updates to stay under the size mail clients clip at; None: same as `html`.
    web_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BodyUpdate(Base):
    """Which updates a digest body holds: a withdrawn update finds the digests not yet sent
    that carry it."""

    __tablename__ = "body_updates"
    __table_args__ = (Index("ix_body_updates_update", "update_id"),)

    body_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    update_id: Mapped[int] = mapped_column(Integer, primary_key=True)


#: The predicates of the outbox's partial indexes, as SQL.
WAITING_SQL = "status IN ('pending', 'retry')"
IN_FLIGHT_SQL = "status = 'sending'"
FAILED_SQL = "status = 'failed'"


def status_in(*statuses: OutboxStatus) -> ColumnElement[bool]:
    """`outbox.status = ...` (or `IN (...)`) with the values written into the SQL. A partial
    index serves only a query whose WHERE names the statuses as its own predicate does (a bound
    parameter could be any status; SQLite matches `= 'x'`, not `IN ('x')`), so the queries that
    look for due or claimed rows say them this way."""
    column = OutboxMessage.status

    def value(status: object, many: bool) -> BindParameter[Any]:
        return bindparam(
            "status", status, expanding=many, literal_execute=True, unique=True, type_=column.type
        )

    if len(statuses) == 1:
        return column == value(statuses[0], False)
    return column.in_(value(list(statuses), True))


class OutboxMessage(Base):
    """One message to one recipient on one channel: the single source of truth of who gets what.
    (recipient, channel, key) is unique, so any step that runs twice writes nothing twice."""

    __tablename__ = "outbox"
    # Key first: the rows one update or digest writes sit together in the index, so a 40,000-row
    # match costs the same whether the outbox holds a thousand rows or millions. No foreign
    # keys: checked row by row they were 40% of matching an update on PostgreSQL, and the rows
    # outlive what they point at on purpose (a log of what was sent). Erasing a subscriber
    # deletes their rows explicitly; delivery suppresses a row whose update is gone.
    __table_args__ = (
        UniqueConstraint("key", "recipient", "channel"),
        # Partial indexes of the few rows that can be due: waiting ones (each channel's lane
        # claims its own, by when) and claimed ones (by when their lease ends). A sent row
        # leaves them and is never in them again, so the millions sent in a network's years
        # weigh nothing on a claim, and recording a result touches one small index, not one
        # that holds every row (measured: a write of ten results costs 40% of what it did).
        Index(
            "ix_outbox_due",
            "channel",
            "next_attempt_at",
            sqlite_where=text(WAITING_SQL),
            postgresql_where=text(WAITING_SQL),
        ),
        Index(
            "ix_outbox_in_flight",
            "lease_until",
            sqlite_where=text(IN_FLIGHT_SQL),
            postgresql_where=text(IN_FLIGHT_SQL),
        ),
        # The console's pages. One subscriber's messages (their page, their bounce reports,
        # erasing them): a range of this index instead of a scan of millions of rows.
        Index("ix_outbox_subscriber", "subscriber_id", "id"),
        # The outbox by date. Written once with the row and never changed, so delivery, which
        # changes a row's status many times, pays nothing for it.
        Index("ix_outbox_created", "created_at", "id"),
        # The failed ones, newest first: few among millions sent, and what an administrator
        # looks for. Partial, so a message sent leaves nothing to update here.
        Index(
            "ix_outbox_failed",
            "created_at",
            "id",
            sqlite_where=text(FAILED_SQL),
            postgresql_where=text(FAILED_SQL),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    #: Who, as a stable key: "subscriber:<id>" (the address is looked up at delivery).
    recipient: Mapped[str] = mapped_column(String(80))
    subscriber_id: Mapped[int | None] = mapped_column(Integer)
    #: "alert:<update id>" or "digest:<digest key>:<period>".
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind, "message_kind"))
    update_id: Mapped[int | None] = mapped_column(Integer)
    list_id: Mapped[int | None] = mapped_column(Integer)
    body_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When the current delivery effort began: creation, or an admin's `outbox retry`. A
    #: message still failing `max_message_age` after this is failed.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Of a message sent in parts (Telegram): how many an earlier attempt delivered.
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The worker (`workers.id`) whose claim this is while `sending`: when that worker's
    #: heartbeat stops, any live worker gives the message back at once.
    claimed_by: Mapped[int | None] = mapped_column(Integer)


class ChannelHealth(Base):
    """What each channel last said about itself (paused after failed connections, …), written
    by whichever process delivers, read by `notifier status`."""

    __tablename__ = "channel_health"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    #: What the channel learnt of its server (SMTP: which server, and whether it offered
    #: SMTPUTF8), for warnings before a message would fail.
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Worker(Base):
    """A process that delivers (`run`, `worker`, `run --once`…), with a heartbeat. Its claims on
    the outbox are its own; a worker whose heartbeat is older than `worker_timeout`, or whose
    process is gone from this machine, is dead, and its claims go back at once."""

    __tablename__ = "workers"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Where it runs: host name; `machine` also tells two containers with one host name apart
    #: (boot id and pid namespace), so a pid is only checked where it means the same process.
    host: Mapped[str] = mapped_column(String(255))
    machine: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChannelLease(Base):
    """Which process may send on a channel that must have one sender at a time (Telegram: its
    rate limits hold per bot token, across every process). Renewed while sending; a holder
    that dies loses it when `until` passes."""

    __tablename__ = "channel_leases"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    until: Mapped[datetime] = mapped_column(UTCDateTime())


class LinkCode(Base):
    """A single-use code that links a Telegram chat to a subscriber (`/start <code>` from the
    preference page). Only its SHA-256 is stored."""

    __tablename__ = "link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DailyCount(Base):
    """How many times something happened on a day (UTC), per channel where one applies ("" where
    none does): what the dashboard's last 30 days are read from, a few rows a day whatever the
    size of the outbox and of the subscribers.

    Kept by triggers of the database itself (migration 0021), in the transaction of the change
    they count, so every path that changes a status is counted and none can forget:

    - `sent` / `failed` (per channel): an outbox row's status became sent (on the day of its
      `sent_at`) or failed (on the day it failed).
    - `joined` / `left` / `bounced` (channel ""): a subscriber became active (added active, or
      confirmed, or came back), unsubscribed, or bounced.

    They count events, so deleting rows later (pruning, erasure) leaves the history as it was;
    an erased subscriber (deleted, not unsubscribed) is not counted as having left.
    """

    __tablename__ = "daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)


#: The metrics of `daily_counts`, as the triggers write them.
SENT_METRIC = "sent"
FAILED_METRIC = "failed"
JOINED_METRIC = "joined"
LEFT_METRIC = "left"
BOUNCED_METRIC = "bounced"
