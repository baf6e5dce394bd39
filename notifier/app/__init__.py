"""The application layer: each thing an administrator does, once, for every face (the CLI, the
admin API, and any console to come). A function here takes the store (and the settings when it
needs them) and plain arguments or specs, does the task in one transaction, and returns plain
results: dataclasses, and dicts shaped as notifier.store.as_json shapes them. It refuses with
notifier's own errors (notifier.errors: NotFoundError, InputError, ConflictError), each problem
named; turning them into a message or an HTTP status is the face's work, not this layer's.

Imports run one way: this layer uses the store, ingest, the outbox and the domain below it,
and nothing in notifier.cli, notifier.web or notifier.bot."""

from __future__ import annotations

from notifier.app.cases import import_cases
from notifier.app.list_console import (
    DigestPreview,
    DigestSent,
    ListSaved,
    MemberChange,
    MemberPage,
    MembersImported,
    SentNow,
    add_list_member,
    digest_archive,
    digest_delivery,
    digest_preview,
    export_list_members,
    import_list_members,
    list_detail,
    list_members,
    lists_for,
    remove_list_member,
    save_list,
    send_now,
)
from notifier.app.lists import MemberAdded, add_member, apply_lists, mailing_lists, show_list
from notifier.app.outbox import OutboxEntry, outbox_messages, retry_messages
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
from notifier.app.updates import (
    UpdateAdded,
    UpdateCorrected,
    UpdateWithdrawn,
    add_update,
    correct_update,
    withdraw_update,
)
from notifier.app.users import add_user, remove_user, set_role, user_row, users
from notifier.app.users import check_user as users_check

__all__ = [
    "DigestPreview",
    "DigestSent",
    "FollowEntry",
    "ListSaved",
    "MemberAdded",
    "MemberChange",
    "MemberPage",
    "MembersImported",
    "OutboxEntry",
    "SentNow",
    "SubscriberAdded",
    "SubscriberEntry",
    "SubscriberForm",
    "SubscribersImported",
    "UpdateAdded",
    "UpdateCorrected",
    "UpdateWithdrawn",
    "add_list_member",
    "add_member",
    "add_subscriber",
    "add_update",
    "add_user",
    "apply_lists",
    "check_subscriber",
    "correct_update",
    "digest_archive",
    "digest_delivery",
    "digest_preview",
    "export_list_members",
    "import_cases",
    "import_list_members",
    "import_subscribers",
    "leave_list",
    "list_detail",
    "list_members",
    "lists_for",
    "mailing_lists",
    "outbox_messages",
    "pause_subscriber",
    "reactivate_subscriber",
    "remove_list_member",
    "remove_subscriber",
    "remove_user",
    "retry_messages",
    "save_list",
    "send_now",
    "set_role",
    "show_list",
    "show_subscriber",
    "subscriber_rows",
    "user_row",
    "users",
    "users_check",
    "withdraw_update",
]
