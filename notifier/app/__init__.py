"""The application layer: each thing an administrator does, once, for every face (the CLI, the
admin API, and any console to come). A function here takes the store (and the settings when it
needs them) and plain arguments or specs, does the task in one transaction, and returns plain
results: dataclasses, and dicts shaped as notifier.store.as_json shapes them. It refuses with
notifier's own errors (notifier.errors: NotFoundError, InputError, ConflictError), each problem
named; turning them into a message or an HTTP status is the face's work, not this layer's.

Imports run one way: this layer uses the store, ingest, the outbox and the domain below it,
and nothing in notifier.cli, notifier.web or notifier.bot."""

from __future__ import annotations

from notifier.app.access import require
from notifier.app.audit import AuditRow, audit_entries
from notifier.app.cases import (
    CasePage,
    CaseSaved,
    CasesUploaded,
    case_detail,
    import_case_text,
    import_cases,
    save_case,
    search_cases,
)
from notifier.app.dashboard import Dashboard, dashboard
from notifier.app.lists import MemberAdded, add_member, apply_lists, mailing_lists, show_list
from notifier.app.outbox import (
    BOUNCE_KINDS,
    BounceEntry,
    OutboxEntry,
    bounces_page,
    outbox_messages,
    outbox_page,
    retry_messages,
)
from notifier.app.paging import Page
from notifier.app.sessions import issue_reset
from notifier.app.subscriber_search import (
    BounceInfo,
    ConsentRecord,
    Membership,
    SubscriberDetail,
    SubscriberHit,
    search_subscribers,
    subscriber_page,
)
from notifier.app.subscribers import (
    FollowEntry,
    SubscriberAdded,
    SubscriberEntry,
    SubscriberForm,
    SubscribersImported,
    add_subscriber,
    check_subscriber,
    import_subscribers,
    leave_list,
    pause_subscriber,
    reactivate_subscriber,
    remove_subscriber,
    show_subscriber,
    subscriber_rows,
)
from notifier.app.tokens import (
    TokenRow,
    check_token_name,
    create_token,
    revoke_token,
    token_actor,
    tokens,
)
from notifier.app.updates import (
    Audience,
    AudienceList,
    SentToSelf,
    UpdateAdded,
    UpdateCorrected,
    UpdateDraft,
    UpdatePage,
    UpdatePreview,
    UpdateWithdrawn,
    WithdrawPreview,
    add_update,
    correct_update,
    latest_updates,
    preview_update,
    test_send,
    update_audience,
    withdraw_preview,
    withdraw_update,
)
from notifier.app.users import add_user, remove_user, set_role, user_row, users
from notifier.app.users import check_user as users_check

__all__ = [
    "BOUNCE_KINDS",
    "Audience",
    "AudienceList",
    "AuditRow",
    "BounceEntry",
    "BounceInfo",
    "CasePage",
    "CaseSaved",
    "CasesUploaded",
    "ConsentRecord",
    "Dashboard",
    "FollowEntry",
    "MemberAdded",
    "Membership",
    "OutboxEntry",
    "Page",
    "SentToSelf",
    "SubscriberAdded",
    "SubscriberDetail",
    "SubscriberEntry",
    "SubscriberForm",
    "SubscriberHit",
    "SubscribersImported",
    "TokenRow",
    "UpdateAdded",
    "UpdateCorrected",
    "UpdateDraft",
    "UpdatePage",
    "UpdatePreview",
    "UpdateWithdrawn",
    "WithdrawPreview",
    "add_member",
    "add_subscriber",
    "add_update",
    "add_user",
    "apply_lists",
    "audit_entries",
    "bounces_page",
    "case_detail",
    "check_subscriber",
    "check_token_name",
    "correct_update",
    "create_token",
    "dashboard",
    "import_case_text",
    "import_cases",
    "import_subscribers",
    "issue_reset",
    "latest_updates",
    "leave_list",
    "mailing_lists",
    "outbox_messages",
    "outbox_page",
    "pause_subscriber",
    "preview_update",
    "reactivate_subscriber",
    "remove_subscriber",
    "remove_user",
    "require",
    "retry_messages",
    "revoke_token",
    "save_case",
    "search_cases",
    "search_subscribers",
    "set_role",
    "show_list",
    "show_subscriber",
    "subscriber_page",
    "subscriber_rows",
    "test_send",
    "token_actor",
    "tokens",
    "update_audience",
    "user_row",
    "users",
    "users_check",
    "withdraw_preview",
    "withdraw_update",
]
