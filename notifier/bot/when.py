"""`/when friday 18:30 Asia/Almaty`: when a chat's daily and weekly summaries come. Any of the
three, in any order: a weekday (in English or in the reader's language, whole, its first three
letters or more, or its short name: 'fri', 'Freitag', 'Fr', 'пятница', 'пт'), a time (HH:MM),
an IANA time zone (any letter case)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from notifier import locales
from notifier.store.preferences import DIGEST_TIME
from notifier.time_zones import known_zones


@dataclass(frozen=True)
class When:
    day: int | None = None
    at: str | None = None
    zone: str | None = None


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in known_zones()}


@cache
def _day_names(language: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(whole names, short names) of the days, lower case, in English and in `language`."""
    spoken = {locales.DEFAULT, language}
    return tuple(
        (
            tuple(name.casefold() for name in locales.weekday_names(code)),
            tuple(name.casefold() for name in locales.weekday_abbreviations(code)),
        )
        for code in sorted(spoken)
    )


def weekday_of(word: str, language: str) -> int | None:
    """The day (0 = Monday) `word` names, or None if it names none or several."""
    lower = word.casefold().rstrip(".")
    days = set()
    for names, short in _day_names(language):
        days |= {i for i, name in enumerate(names) if len(lower) >= 3 and name.startswith(lower)}
        days |= {i for i, name in enumerate(short) if name == lower}
    return days.pop() if len(days) == 1 else None


def parse_when(text: str, language: str | None = None) -> tuple[When, list[str]]:
    """What the words set, and the words that are none of a day, a time or a time zone.
    Days are understood in English and in `language` (default: the language spoken now)."""
    language = locales.shipped(language) if language else locales.current()
    day = at = zone = None
    unknown = []
    for word in text.split():
        lower = word.lower()
        named = weekday_of(word, language)
        if named is not None:
            day = named
        elif DIGEST_TIME.fullmatch(word.zfill(5)):
            at = word.zfill(5)
        elif lower in _zones():
            zone = _zones()[lower]
        else:
            unknown.append(word)
    return When(day, at, zone), unknown
