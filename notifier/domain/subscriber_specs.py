"""A subscriber as files describe one (CSV rows, list files), checked field by field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from notifier import limits
from notifier.countries import resolve_country
from notifier.domain import Cadence, Channel, Consent, Scope, SubscriberStatus
from notifier.domain.schedule import DAYS, parse_schedule
from notifier.domain.text_fields import check_text
from notifier.errors import NotFoundError, Problem
from notifier.locales import language_tag
from notifier.time_zones import usable_zone

E = TypeVar("E", Cadence, Channel, Consent, SubscriberStatus)


@dataclass(frozen=True)
class FollowSpec:
    """One follow: everything, a country (alpha-2) or a case (slug or any spelling)."""

    scope: Scope
    value: str | None = None
    cadence: Cadence = Cadence.INSTANT
    channel: Channel = Channel.EMAIL
    #: Where the follow was written (a column, an option, a line), for problems found later
    #: (a case that does not exist); not part of what the follow means.
    where: str | None = field(default=None, compare=False, repr=False)
    origin: str = field(default="follows", compare=False, repr=False)

    def token(self) -> str:
        """The `follows` column form: 'country=KZ:weekly:email', 'all:instant:telegram'."""
        what = "all" if self.scope is Scope.ALL else f"{self.scope.value}={self.value}"
        return f"{what}:{self.cadence.value}:{self.channel.value}"


@dataclass
class SubscriberSpec:
    """A subscriber from a file. `follows is None` means the file says nothing about follows
    (existing ones are kept); a list, even empty, replaces them."""

    where: str
    email: str | None
    name: str = ""
    locale: str | None = None
    time_zone: str | None = None
    #: When personal summaries come: (weekday for weekly ones or None to keep it, "HH:MM").
    digest_schedule: tuple[int | None, str] | None = None
    telegram_chat_id: int | None = None
    status: SubscriberStatus | None = None
    paused_until: datetime | None = None
    follows: list[FollowSpec] | None = None
    #: The lists they are on, by slug; None: the file does not say (memberships are kept).
    lists: list[str] | None = None
    #: How and when they said yes, as the file records it (an export from another store).
    consent: Consent | None = None
    confirmed_at: datetime | None = None
    problems: list[Problem] = field(default_factory=list)


def check_email(value: str) -> str:
    """The normalised address (lower case); ValueError naming what is wrong."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {value.strip()!r}: {exc}") from None


def check_name(value: str) -> str:
    """A display name: one line of at most `limits.NAME` characters; ValueError if not."""
    return check_text(value.strip(), limit=limits.NAME)


def check_locale(value: str) -> str:
    """A language tag such as 'de' or 'pt-BR' (kept as given); ValueError if it cannot be one."""
    return language_tag(check_text(value.strip(), limit=limits.LOCALE))


def parse_chat_id(value: str) -> int:
    """A Telegram chat id: a whole number, negative for groups ('-1001234567890')."""
    try:
        chat = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a Telegram chat id (a whole number)") from None
    return check_chat_id(chat)


def check_chat_id(chat: int) -> int:
    if abs(chat) > limits.TELEGRAM_CHAT_ID:
        raise ValueError(f"{chat} is not a Telegram chat id (too large)")
    return chat


def parse_list_slugs(value: str) -> list[str]:
    """'chain-one chain-two': the slugs of the lists someone is on, each once."""
    slugs = value.replace(",", " ").split()
    for slug in slugs:
        check_text(slug, limit=limits.SLUG)
    return list(dict.fromkeys(slugs))


def parse_consent(value: str) -> Consent:
    return _choice(Consent, value, "consent")


def check_time_zone(value: str) -> str:
    """An IANA time zone of a place (not `localtime`, `Factory`…: notifier/time_zones.py)."""
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        name = ""
    if not name or not usable_zone(name):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Almaty)")
    return name


def parse_digest_schedule(value: str) -> tuple[int | None, str]:
    """'fri 18:30': weekly summaries on Fridays, daily and weekly ones at 18:30; '18:30' alone
    sets only the hour. ValueError says what is wrong."""
    daily = not any(c.isalpha() for c in value)
    schedule = parse_schedule(value, Cadence.DAILY if daily else Cadence.WEEKLY)
    return schedule.weekday, schedule.at.strftime("%H:%M")


def digest_schedule_cell(weekday: int, at: str) -> str:
    """The `digest_schedule` column form of a subscriber's schedule: 'mon 07:00'."""
    return f"{DAYS[weekday % 7]} {at}"


def parse_moment(value: str) -> datetime:
    """An ISO 8601 date or date and time, in UTC when it names no offset."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date and time (ISO 8601, e.g. 2026-12-31 or 2026-12-31T08:00Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _choice(kind: type[E], value: str, what: str) -> E:
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValueError(f"unknown {what} {value!r} (one of: {allowed})") from None


def parse_cadence(value: str) -> Cadence:
    return _choice(Cadence, value, "cadence")


def parse_channel(value: str) -> Channel:
    return _choice(Channel, value, "channel")


def parse_status(value: str) -> SubscriberStatus:
    # Listmonk exports say enabled / blocklisted; Mailchimp says subscribed / cleaned.
    aliases = {
        "enabled": "active",
        "subscribed": "active",
        "blocklisted": "unsubscribed",
        "cleaned": "bounced",
    }
    value = value.strip().lower()
    return _choice(SubscriberStatus, aliases.get(value, value), "status")


def parse_follow_token(token: str, *, cadence: Cadence, channel: Channel) -> FollowSpec:
    """'country=KZ:weekly:email', 'case=anna-ivanova', 'all:daily', 'KZ', 'kazakhstan'."""
    what, *rest = token.strip().split(":")
    if len(rest) > 2:
        raise ValueError(f"follow {token!r} has too many ':' parts (WHAT[:CADENCE[:CHANNEL]])")
    if rest:
        cadence = parse_cadence(rest[0])
    if len(rest) == 2:
        channel = parse_channel(rest[1])
    scope_name, sep, value = what.partition("=")
    if not sep:
        if what.lower() == "all":
            return FollowSpec(Scope.ALL, None, cadence, channel)
        scope_name, value = "country", what
    if scope_name == "country":
        try:
            return FollowSpec(Scope.COUNTRY, resolve_country(value), cadence, channel)
        except NotFoundError as exc:
            raise ValueError(str(exc)) from None
    if scope_name == "case":
        if not value.strip():
            raise ValueError(f"follow {token!r} names no case")
        return FollowSpec(Scope.CASE, value.strip(), cadence, channel)
    raise ValueError(f"follow {token!r}: say all, country=CODE or case=SLUG")


def follows_cell(follows: Iterable[FollowSpec]) -> str:
    """Follows as one cell (a CSV column, a JSON field): their tokens, space-separated."""
    return " ".join(f.token() for f in follows)
