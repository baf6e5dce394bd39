"""The bottom layer: notifier's vocabulary, the keys of its outbox, the specs of what comes in
(with their checks), the views templates see and the messages channels send, in plain Python.
It imports only notifier's base modules (errors, limits, countries, time zones) and no
framework (no SQLAlchemy, Jinja, FastAPI or python-telegram-bot; `lint-imports` checks), so
every layer above can speak it, and a change to it shows every place it matters."""

from notifier.domain import actors, outbox_keys
from notifier.domain.vocabulary import (
    CLAIMABLE,
    EMAIL_STOPPED,
    FINISHED,
    RETRYABLE,
    ActionKind,
    Cadence,
    CaseStatus,
    Channel,
    ChatStatus,
    Consent,
    ListOrigin,
    MemberSource,
    MessageKind,
    OutboxStatus,
    Role,
    Scope,
    Severity,
    SubscriberStatus,
    target_of,
)

__all__ = [
    "CLAIMABLE",
    "EMAIL_STOPPED",
    "FINISHED",
    "RETRYABLE",
    "ActionKind",
    "Cadence",
    "CaseStatus",
    "Channel",
    "ChatStatus",
    "Consent",
    "ListOrigin",
    "MemberSource",
    "MessageKind",
    "OutboxStatus",
    "Role",
    "Scope",
    "Severity",
    "SubscriberStatus",
    "actors",
    "case_specs",
    "list_specs",
    "messages",
    "outbox_keys",
    "schedule",
    "status_words",
    "subscriber_specs",
    "target_of",
    "text_fields",
    "translations",
    "update_keys",
    "views",
    "vocabulary",
]
