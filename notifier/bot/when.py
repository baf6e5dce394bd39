"""`/when friday 18:30 Asia/Almaty`: when a chat's daily and weekly summaries come. Any of the
three, in any order: a weekday (or its first three letters), a time (HH:MM), an IANA time
zone (any letter case)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from notifier.bot.texts import WEEKDAYS
from notifier.store.preferences import DIGEST_TIME
from notifier.time_zones import known_zones

WEEKDAY_NAMES = tuple(day.lower() for day in WEEKDAYS)


@dataclass(frozen=True)
class When:
    day: int | None = None
    at: str | None = None
    zone: str | None = None


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in known_zones()}


def parse_when(text: str) -> tuple[When, list[str]]:
    """What the words set, and the words that are none of a day, a time or a time zone."""
    day = at = zone = None
    unknown = []
    for word in text.split():
        lower = word.lower()
        days = [
            i for i, name in enumerate(WEEKDAY_NAMES) if len(lower) >= 3 and name.startswith(lower)
        ]
        if len(days) == 1:
            day = days[0]
        elif DIGEST_TIME.fullmatch(word.zfill(5)):
            at = word.zfill(5)
        elif lower in _zones():
            zone = _zones()[lower]
        else:
            unknown.append(word)
    return When(day, at, zone), unknown
