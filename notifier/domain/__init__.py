"""The bottom layer: notifier's vocabulary, the keys of its outbox, the specs of what comes in
and the types of what goes out, in plain Python. It imports nothing of notifier's and no
framework (no SQLAlchemy, Jinja, FastAPI or python-telegram-bot), so every layer above can
speak it, and a change to it shows every place it matters."""

from notifier.domain import outbox_keys
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
    MemberSource,
    MessageKind,
    OutboxStatus,
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
    "MemberSource",
    "MessageKind",
    "OutboxStatus",
    "Scope",
    "Severity",
    "SubscriberStatus",
    "outbox_keys",
    "target_of",
]
