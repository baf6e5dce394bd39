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
LIST = "kazakhstan-prayer-chain"
OTHER_LIST = "central-asia-weekly"
#: A sample case (update 1 is one of its updates).
CASE = "bakhytzhan-kashkumbayev"
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
    Route("GET", "/admin/updates", "/admin/updates", EVERYONE, "updates"),
    Route("GET", "/admin/updates/{update_id}", "/admin/updates/1", WRITERS, "update"),
    Route("POST", "/admin/updates/{update_id}", "/admin/updates/1", WRITERS),
    Route(
        "GET", "/admin/updates/{update_id}/withdraw", "/admin/updates/1/withdraw", WRITERS,
        "update-withdraw",
    ),
    Route("POST", "/admin/updates/{update_id}/withdraw", "/admin/updates/1/withdraw", WRITERS),
)  # fmt: skip
