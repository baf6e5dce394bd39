"""What an actor may do, checked once for every face: an application task refuses with
ForbiddenError before it reads or changes anything the actor may not (the faces check the same
table first, for a quick answer; this is the check that counts)."""

from __future__ import annotations

from notifier.domain.actors import Actor, Area
from notifier.errors import ForbiddenError
from notifier.store.models import Subscriber


def require(by: Actor, area: Area, *, write: bool = False, mailing_list: str | None = None) -> None:
    """ForbiddenError unless `by` may read (or `write`) `area`, on `mailing_list` if named."""
    if not by.may(area, write=write, mailing_list=mailing_list):
        what = "change" if write else "see"
        where = f" of the list {mailing_list}" if mailing_list is not None else ""
        raise ForbiddenError(f"{by.label} ({by.role.value}) may not {what} {area.value}{where}")


def require_member(by: Actor, subscriber: Subscriber, *, write: bool = False) -> None:
    """A coordinator reaches only the members of their lists (memberships must be loaded)."""
    require(by, Area.SUBSCRIBERS, write=write)
    if by.sees_every_list:
        return
    if not {m.mailing_list.slug for m in subscriber.memberships} & by.lists:
        what = "change" if write else "see"
        raise ForbiddenError(
            f"{by.label} (coordinator) may not {what} a subscriber who is not on their lists"
        )
