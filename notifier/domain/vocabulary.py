"""The words notifier is made of: what a case's status can be, who follows what and how
often, on which channel, and where a message stands. Plain enums and the sets of them that
mean something, importing nothing: every layer speaks them, the store keeps them as text."""

from __future__ import annotations

import enum


class CaseStatus(enum.StrEnum):
    DETAINED = "detained"
    AWAITING_TRIAL = "awaiting_trial"
    HOUSE_ARREST = "house_arrest"
    PSYCHIATRIC_DETENTION = "psychiatric_detention"
    ON_TRIAL = "on_trial"
    SENTENCED = "sentenced"
    IMPRISONED = "imprisoned"
    PROBATION = "probation"
    FINED = "fined"
    RELEASED = "released"
    EXILED = "exiled"
    THREATENED_WITH_EXTRADITION = "threatened_with_extradition"
    HARASSED = "harassed"
    MISSING = "missing"
    DECEASED = "deceased"


class ActionKind(enum.StrEnum):
    PRAY = "pray"
    WRITE = "write"
    CONTACT = "contact"


class Severity(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class Scope(enum.StrEnum):
    ALL = "all"
    COUNTRY = "country"
    CASE = "case"


class Cadence(enum.StrEnum):
    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"


class Channel(enum.StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class MessageKind(enum.StrEnum):
    ALERT = "alert"
    DIGEST = "digest"
    CONFIRM = "confirm"  # double opt-in: "please confirm your subscription"


class MemberSource(enum.StrEnum):
    FILE = "file"
    IMPORT = "import"
    SELF = "self"


class ListOrigin(enum.StrEnum):
    """Where a list's settings are kept: its file (subscribers/*.yaml, `lists apply`; the
    console shows it read-only) or the console (edited there)."""

    FILE = "file"
    CONSOLE = "console"


class Consent(enum.StrEnum):
    """How a subscriber said yes: the record an administrator shows when asked."""

    SIGNUP = "signup"  # the sign-up form, confirmed by the emailed link (double opt-in)
    TELEGRAM = "telegram"  # started the bot in Telegram themselves
    PREFERENCES = "preferences"  # subscribed again from their own preference page
    CLI = "cli"  # an administrator vouched: `notifier subscribers add`
    API = "api"  # an administrator vouched through the admin API
    IMPORT = "import"  # an administrator's CSV import, with no record of its own
    LIST_FILE = "list_file"  # named as a member in a list file (`notifier lists apply`)


class ChatStatus(enum.StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"  # the bot was removed from the group, or an admin unsubscribed it


class Role(enum.StrEnum):
    """What a console user may do: owners everything (users and the audit log too); editors
    cases and updates; coordinators only the lists named for them."""

    OWNER = "owner"
    EDITOR = "editor"
    COORDINATOR = "coordinator"


#: A message someone is waiting for: due now or at its next attempt.
CLAIMABLE = (OutboxStatus.PENDING, OutboxStatus.RETRY)
#: What an admin may send again (not what was sent, nor what is being sent now).
RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.RETRY, OutboxStatus.SUPPRESSED)
#: Done with, one way or another: what pruning may delete once old enough.
FINISHED = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SUPPRESSED)
#: Email states that stop email but not a linked Telegram chat.
EMAIL_STOPPED = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED)


def target_of(scope: Scope, country: str | None, case_id: int | None) -> str:
    """The one string that says what a follow points at; unique per follower and channel."""
    if scope is Scope.ALL:
        return "all"
    if scope is Scope.COUNTRY:
        return f"country:{country}"
    return f"case:{case_id}"
