"""Every console route, an example address of it, and the roles that may use it: the table the
permission test (tests/test_console_permissions.py) checks role by role, and the browser test
walks for accessibility. A route added to the console and left out of this table fails the
test that every route is here.

`allowed` holds the roles that pass; the others get the 403 page. For a coordinator, the
example list (LIST) is theirs and OTHER_LIST is not."""

from __future__ import annotations

from dataclasses import dataclass, field

OWNER, EDITOR, COORDINATOR = "owner", "editor", "coordinator"
EVERYONE = frozenset({OWNER, EDITOR, COORDINATOR})
OWNERS = frozenset({OWNER})
WRITERS = frozenset({OWNER, EDITOR})  # cases and updates
READERS = frozenset({OWNER, EDITOR})  # the outbox and bounces
MEMBERS = frozenset({OWNER, COORDINATOR})  # changing a member of the coordinator's list
READERS = frozenset({OWNER, EDITOR})  # another's list: a coordinator's is theirs only
RUNNERS = frozenset({OWNER, COORDINATOR})  # changes to a list: its coordinator's too
LIST = "kazakhstan-prayer-chain"
OTHER_LIST = "central-asia-weekly"
#: A sample case (update 1 is one of its updates).
CASE = "bakhytzhan-kashkumbayev"
#: A subscriber on LIST (the example list's first member).
MEMBER = 1
#: A member of LIST by address (the example list file names her).
MEMBER_EMAIL = "david.okafor%40example.org"
#: Routes anyone may open, signed in or not (signing in itself).
PUBLIC = frozenset(
    {
        ("GET", "/admin/login"),
        ("POST", "/admin/login"),
        ("GET", "/admin/code"),
        ("POST", "/admin/code"),
        ("POST", "/admin/logout"),
        ("GET", "/admin/set-password/{token}"),
        ("POST", "/admin/set-password/{token}"),
        ("GET", "/admin/live-preview.js"),
    }
)


@dataclass(frozen=True)
class Route:
    method: str
    #: The route as the app declares it.
    template: str
    #: An address of it to request.
    path: str
    allowed: frozenset[str]
    #: A name for the page's screenshot (GET pages only).
    name: str = ""
    data: dict[str, str] = field(default_factory=dict)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/admin", "/admin", EVERYONE),
    Route("GET", "/admin/dashboard", "/admin/dashboard", EVERYONE, "dashboard"),
    Route("GET", "/admin/account", "/admin/account", EVERYONE, "account"),
    Route("POST", "/admin/account/password", "/admin/account/password", EVERYONE),
    Route(
        "GET", "/admin/account/second-factor", "/admin/account/second-factor", EVERYONE,
        "second-factor",
    ),
    Route("POST", "/admin/account/second-factor", "/admin/account/second-factor", EVERYONE),
    Route(
        "POST", "/admin/account/second-factor/off", "/admin/account/second-factor/off", EVERYONE
    ),
    Route("POST", "/admin/sign-out-everywhere", "/admin/sign-out-everywhere", EVERYONE),
    Route("GET", "/admin/account/tokens", "/admin/account/tokens", EVERYONE, "tokens"),
    Route("POST", "/admin/account/tokens", "/admin/account/tokens", EVERYONE),
    Route(
        "POST", "/admin/account/tokens/{token_id}/revoke", "/admin/account/tokens/1/revoke",
        EVERYONE,
    ),
    Route("GET", "/admin/audit", "/admin/audit", OWNERS, "audit"),
    Route("GET", "/admin/users", "/admin/users", OWNERS, "users"),
    Route("POST", "/admin/users", "/admin/users", OWNERS),
    Route("GET", "/admin/users/{email}", "/admin/users/editor@example.org", OWNERS, "user"),
    Route("POST", "/admin/users/{email}/role", "/admin/users/editor@example.org/role", OWNERS),
    Route("POST", "/admin/users/{email}/reset", "/admin/users/editor@example.org/reset", OWNERS),
    Route(
        "POST",
        "/admin/users/{email}/second-factor-off",
        "/admin/users/editor@example.org/second-factor-off",
        OWNERS,
    ),
    Route(
        "GET",
        "/admin/users/{email}/remove",
        "/admin/users/editor@example.org/remove",
        OWNERS,
        "user-remove",
    ),
    Route(
        "POST", "/admin/users/{email}/remove", "/admin/users/editor@example.org/remove", OWNERS
    ),
    Route("GET", "/admin/cases", "/admin/cases", EVERYONE, "cases"),
    Route("GET", "/admin/cases/new", "/admin/cases/new", WRITERS, "case-new"),
    Route("POST", "/admin/cases/new", "/admin/cases/new", WRITERS),
    Route("GET", "/admin/cases/upload", "/admin/cases/upload", WRITERS, "case-upload"),
    Route("POST", "/admin/cases/upload", "/admin/cases/upload", WRITERS),
    Route("GET", "/admin/cases/{slug}", f"/admin/cases/{CASE}", EVERYONE, "case"),
    Route("POST", "/admin/cases/{slug}", f"/admin/cases/{CASE}", WRITERS),
    Route("POST", "/admin/cases/{slug}/updates", f"/admin/cases/{CASE}/updates", WRITERS),
    Route(
        "POST", "/admin/cases/{slug}/updates/preview", f"/admin/cases/{CASE}/updates/preview",
        WRITERS,
    ),
    Route("GET", "/admin/updates", "/admin/updates", EVERYONE, "updates"),
    Route("GET", "/admin/updates/{update_id}", "/admin/updates/1", WRITERS, "update"),
    Route("POST", "/admin/updates/{update_id}", "/admin/updates/1", WRITERS),
    Route(
        "GET", "/admin/updates/{update_id}/withdraw", "/admin/updates/1/withdraw", WRITERS,
        "update-withdraw",
    ),
    Route("POST", "/admin/updates/{update_id}/withdraw", "/admin/updates/1/withdraw", WRITERS),
    Route("GET", "/admin/subscribers", "/admin/subscribers", EVERYONE, "subscribers"),
    Route(
        "GET", "/admin/subscribers/{subscriber_id}", f"/admin/subscribers/{MEMBER}", EVERYONE,
        "subscriber",
    ),
    Route(
        "POST", "/admin/subscribers/{subscriber_id}/pause", f"/admin/subscribers/{MEMBER}/pause",
        MEMBERS,
    ),
    Route(
        "POST", "/admin/subscribers/{subscriber_id}/resume",
        f"/admin/subscribers/{MEMBER}/resume", MEMBERS,
    ),
    Route(
        "POST", "/admin/subscribers/{subscriber_id}/reactivate",
        f"/admin/subscribers/{MEMBER}/reactivate", MEMBERS,
    ),
    Route(
        "GET", "/admin/subscribers/{subscriber_id}/unsubscribe",
        f"/admin/subscribers/{MEMBER}/unsubscribe", MEMBERS, "subscriber-unsubscribe",
    ),
    Route(
        "POST", "/admin/subscribers/{subscriber_id}/unsubscribe",
        f"/admin/subscribers/{MEMBER}/unsubscribe", MEMBERS,
    ),
    Route(
        "GET", "/admin/subscribers/{subscriber_id}/erase",
        f"/admin/subscribers/{MEMBER}/erase", MEMBERS, "subscriber-erase",
    ),
    Route(
        "POST", "/admin/subscribers/{subscriber_id}/erase",
        f"/admin/subscribers/{MEMBER}/erase", MEMBERS,
    ),
    Route("GET", "/admin/outbox", "/admin/outbox", READERS, "outbox"),
    Route("POST", "/admin/outbox/retry-failed", "/admin/outbox/retry-failed", OWNERS),
    Route("POST", "/admin/outbox/{message_id}/retry", "/admin/outbox/1/retry", OWNERS),
    Route("GET", "/admin/bounces", "/admin/bounces", READERS, "bounces"),
    Route("GET", "/admin/lists", "/admin/lists", EVERYONE, "lists"),
    Route("GET", "/admin/lists/new", "/admin/lists/new", OWNERS, "list-new"),
    Route("POST", "/admin/lists/new", "/admin/lists/new", OWNERS),
    # The coordinator's own list (kept in a file: read-only settings, members managed).
    Route("GET", "/admin/lists/{slug}", f"/admin/lists/{LIST}", EVERYONE, "list"),
    Route("POST", "/admin/lists/{slug}", f"/admin/lists/{LIST}", RUNNERS),
    Route("GET", "/admin/lists/{slug}/members", f"/admin/lists/{LIST}/members", EVERYONE,
          "list-members"),
    Route("POST", "/admin/lists/{slug}/members", f"/admin/lists/{LIST}/members",
          RUNNERS),
    Route("GET", "/admin/lists/{slug}/members/remove",
          f"/admin/lists/{LIST}/members/remove?email={MEMBER_EMAIL}", RUNNERS,
          "list-member-remove"),
    Route("POST", "/admin/lists/{slug}/members/remove", f"/admin/lists/{LIST}/members/remove",
          RUNNERS),
    Route("GET", "/admin/lists/{slug}/import", f"/admin/lists/{LIST}/import",
          RUNNERS, "list-import"),
    Route("POST", "/admin/lists/{slug}/import", f"/admin/lists/{LIST}/import",
          RUNNERS),
    Route("GET", "/admin/lists/{slug}/export", f"/admin/lists/{LIST}/export", EVERYONE),
    Route("GET", "/admin/lists/{slug}/digest", f"/admin/lists/{LIST}/digest", EVERYONE,
          "list-digest"),
    Route("GET", "/admin/lists/{slug}/send", f"/admin/lists/{LIST}/send", RUNNERS,
          "list-send"),
    Route("POST", "/admin/lists/{slug}/send", f"/admin/lists/{LIST}/send", RUNNERS),
    Route("GET", "/admin/lists/{slug}/archive", f"/admin/lists/{LIST}/archive", EVERYONE,
          "list-archive"),
    # Another list (made in the console: its settings a form): not the coordinator's.
    Route("GET", "/admin/lists/{slug}", f"/admin/lists/{OTHER_LIST}", READERS, "list-edit"),
    Route("POST", "/admin/lists/{slug}", f"/admin/lists/{OTHER_LIST}", OWNERS),
    Route("GET", "/admin/lists/{slug}/members", f"/admin/lists/{OTHER_LIST}/members", READERS),
    Route("POST", "/admin/lists/{slug}/members", f"/admin/lists/{OTHER_LIST}/members", OWNERS),
    Route("GET", "/admin/lists/{slug}/members/remove",
          f"/admin/lists/{OTHER_LIST}/members/remove?email=x%40example.org", OWNERS),
    Route("POST", "/admin/lists/{slug}/members/remove",
          f"/admin/lists/{OTHER_LIST}/members/remove", OWNERS),
    Route("GET", "/admin/lists/{slug}/import", f"/admin/lists/{OTHER_LIST}/import", OWNERS),
    Route("POST", "/admin/lists/{slug}/import", f"/admin/lists/{OTHER_LIST}/import", OWNERS),
    Route("GET", "/admin/lists/{slug}/export", f"/admin/lists/{OTHER_LIST}/export", READERS),
    Route("GET", "/admin/lists/{slug}/digest", f"/admin/lists/{OTHER_LIST}/digest", READERS),
    Route("GET", "/admin/lists/{slug}/send", f"/admin/lists/{OTHER_LIST}/send", OWNERS),
    Route("POST", "/admin/lists/{slug}/send", f"/admin/lists/{OTHER_LIST}/send", OWNERS),
    Route("GET", "/admin/lists/{slug}/archive", f"/admin/lists/{OTHER_LIST}/archive", READERS),
)  # fmt: skip
