"""Who does a write, and what they may do: the actor every application task is called by (a
console user, an API token, the CLI's operating-system user), and the one table of what each
role may read or change. The console, the API and the CLI check the same table; the audit log
names the same actor."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from notifier.domain.vocabulary import Role


class Area(enum.StrEnum):
    """A part of notifier a person may be allowed to see (read) or change (write)."""

    DASHBOARD = "dashboard"
    CASES = "cases"
    UPDATES = "updates"
    LISTS = "lists"
    SUBSCRIBERS = "subscribers"
    OUTBOX = "outbox"
    BOUNCES = "bounces"
    USERS = "users"
    AUDIT = "audit"


class Access(enum.IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


#: What each role may do in each area. A coordinator's LISTS and SUBSCRIBERS are only the lists
#: named for them and those lists' members (`Actor.may` with `mailing_list`).
ACCESS: Mapping[Role, Mapping[Area, Access]] = {
    Role.OWNER: dict.fromkeys(Area, Access.WRITE),
    Role.EDITOR: {
        Area.DASHBOARD: Access.READ,
        Area.CASES: Access.WRITE,
        Area.UPDATES: Access.WRITE,
        Area.LISTS: Access.READ,
        Area.SUBSCRIBERS: Access.READ,
        Area.OUTBOX: Access.READ,
        Area.BOUNCES: Access.READ,
        Area.USERS: Access.NONE,
        Area.AUDIT: Access.NONE,
    },
    Role.COORDINATOR: {
        Area.DASHBOARD: Access.READ,
        Area.CASES: Access.READ,
        Area.UPDATES: Access.READ,
        Area.LISTS: Access.WRITE,
        Area.SUBSCRIBERS: Access.WRITE,
        Area.OUTBOX: Access.NONE,
        Area.BOUNCES: Access.NONE,
        Area.USERS: Access.NONE,
        Area.AUDIT: Access.NONE,
    },
}

#: Areas a coordinator sees only through their own lists.
LIST_SCOPED = frozenset({Area.LISTS, Area.SUBSCRIBERS})


@dataclass(frozen=True)
class Actor:
    """Who is acting. `label` is what the audit log shows: `user:<email>`, `token:<name>
    (<email>)`, `api-token` (the configured token) or `cli:<os user>`."""

    label: str
    role: Role
    #: The lists a coordinator runs (their slugs); empty for the other roles.
    lists: frozenset[str] = field(default_factory=frozenset)
    #: The console user's email, when a user acts (themselves or through their token).
    user: str | None = None

    @classmethod
    def cli(cls, os_user: str) -> Actor:
        """Whoever can run the CLI on the server holds the store: they act as an owner."""
        return cls(f"cli:{os_user}", Role.OWNER)

    @classmethod
    def configured_token(cls) -> Actor:
        """The single `api_token` of the settings: the installation's own key, an owner."""
        return cls("api-token", Role.OWNER)

    @classmethod
    def console_user(cls, email: str, role: Role, lists: frozenset[str]) -> Actor:
        return cls(f"user:{email}", role, lists if role is Role.COORDINATOR else frozenset(), email)

    @classmethod
    def user_token(cls, name: str, email: str, role: Role, lists: frozenset[str]) -> Actor:
        return cls(
            f"token:{name} ({email})",
            role,
            lists if role is Role.COORDINATOR else frozenset(),
            email,
        )

    def access(self, area: Area) -> Access:
        return ACCESS[self.role][area]

    def may(self, area: Area, *, write: bool = False, mailing_list: str | None = None) -> bool:
        """Whether this actor may read (or, with `write`, change) `area`; for a coordinator in
        a list-scoped area, only where `mailing_list` is one of theirs (or, with no list named,
        the area's pages that show only their lists)."""
        needed = Access.WRITE if write else Access.READ
        if self.access(area) < needed:
            return False
        if self.role is Role.COORDINATOR and area in LIST_SCOPED and mailing_list is not None:
            return mailing_list in self.lists
        return True

    @property
    def may_manage_users(self) -> bool:
        return self.may(Area.USERS, write=True)

    @property
    def sees_every_list(self) -> bool:
        return self.role is not Role.COORDINATOR
