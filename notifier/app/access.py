"""The one check every application task makes first: may this actor read (or change) this
area? Refused with ForbiddenError, which the faces turn into 403 or a message."""

from __future__ import annotations

from notifier.domain.actors import Actor, Area
from notifier.errors import ForbiddenError


def require(by: Actor, area: Area, *, write: bool = False) -> None:
    """ForbiddenError unless `by` may read `area` (or change it, with `write`)."""
    if not by.may(area, write=write):
        verb = "change" if write else "see"
        raise ForbiddenError(f"{by.label} ({by.role.value}) may not {verb} {area.value}")
