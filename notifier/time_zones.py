"""Time zones people choose: the IANA names of places, and UTC.

The time-zone database also holds names that are no place's zone: `localtime` (whatever the
server's clock is set to, so a digest's hour would move with the server), `Factory` (a
placeholder), `posixrules`, and the `posix/…` and `right/…` copies of the whole database (`right/`
counts leap seconds, which no clock does). Those are refused wherever a zone is typed. Old
aliases (`US/Eastern`, `Etc/GMT-5`, `EST5EDT`) are accepted when typed, but a menu offers only
the names of places (`America/New_York`), and UTC: `Etc/GMT-5` means UTC+5, a trap in a list."""

from __future__ import annotations

import zoneinfo
from functools import cache

#: The areas whose zones name places: Europe/Berlin, America/Argentina/Salta, Indian/Maldives.
AREAS = frozenset(
    {
        "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
        "Indian", "Pacific",
    }
)  # fmt: skip
#: Names that load as zones but are no place's time zone.
NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})
_COPIES = ("posix/", "right/")


def usable_zone(name: str) -> bool:
    """Whether `name` may be someone's time zone (that it loads is checked apart)."""
    return name not in NOT_PLACES and not name.startswith(_COPIES)


@cache
def known_zones() -> frozenset[str]:
    """Every zone name a person may type: the database's, less the ones that are no place's."""
    return frozenset(z for z in zoneinfo.available_timezones() if usable_zone(z))


@cache
def zone_menu() -> tuple[str, ...]:
    """What a time-zone menu offers: every place's zone, and UTC, in alphabetical order."""
    places = {z for z in known_zones() if z.partition("/")[0] in AREAS and "/" in z}
    return tuple(sorted(places | {"UTC"}))
