"""Pages of a long listing (subscribers, the outbox, bounces) for the console and the API: keyset
pagination, so page 2,000 costs what page 1 does. A page says where the next one starts (an
opaque cursor for `after`) rather than counting every row: counting a million outbox rows on
each page is the full scan the pages exist to avoid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from notifier import limits
from notifier.domain.text_fields import one_line, too_long
from notifier.errors import InputError

T = TypeVar("T")

#: The most rows one page may ask for.
MAX_PAGE = 200
#: A cursor is a row id in decimal: past this many digits it is not one of ours.
_CURSOR_DIGITS = 19
#: The highest id a row can have (the ids are 32-bit integers on PostgreSQL).
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Page(Generic[T]):
    """Rows, and the cursor of the next page (None: this is the last one)."""

    items: list[T]
    next: str | None

    @property
    def more(self) -> bool:
        return self.next is not None


def page_of(rows: Sequence[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """The first `limit` of `rows` (fetched as `limit + 1`, the extra one saying there is more),
    the next cursor being that of the last row kept."""
    kept = list(rows[:limit])
    more = len(rows) > limit
    return Page(kept, cursor_of(kept[-1]) if more and kept else None)


def cursor(row_id: int) -> str:
    return str(row_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def dated_cursor(at: datetime, row_id: int) -> str:
    """The cursor of a page in date order: the last row's time (in microseconds) and id."""
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}-{row_id}"


def parse_dated_cursor(
    value: str | None, *, where: str, field: str = "after"
) -> tuple[datetime, int] | None:
    """(time, id) of a `dated_cursor`; InputError naming `field` if it is not one we gave."""
    if value is None or value == "":
        return None
    micros, dash, row_id = value.partition("-")
    if (
        len(value) > 2 * _CURSOR_DIGITS + 1
        or not dash
        or not (micros.isascii() and micros.isdigit() and row_id.isascii() and row_id.isdigit())
        or int(micros) >= (datetime(9999, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
        or int(row_id) > MAX_ID + 1
    ):
        raise InputError.single(where, field, f"{value[:40]!r} is not a page cursor")
    return _EPOCH + timedelta(microseconds=int(micros)), int(row_id)


def parse_cursor(value: str | None, *, where: str, field: str = "after") -> int | None:
    """The row id a cursor stands for; InputError naming `field` if it is not one we gave."""
    if value is None or value == "":
        return None
    if (
        len(value) > _CURSOR_DIGITS
        or not value.isascii()
        or not value.isdigit()
        or int(value) > MAX_ID + 1
    ):
        raise InputError.single(where, field, f"{value[:40]!r} is not a page cursor")
    return int(value)


def check_limit(limit: int, *, where: str, field: str = "limit") -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InputError.single(where, field, f"{limit} rows per page; from 1 to {MAX_PAGE}")
    return limit


def check_search_text(
    value: str | None, *, where: str, field: str, limit: int = limits.EMAIL
) -> str | None:
    """Search text as typed, trimmed; None if blank. InputError naming `field` if too long or
    with a control character (a NUL, a line break)."""
    if value is None:
        return None
    try:
        if len(value) > limit:
            raise ValueError(too_long(len(value), limit))
        one_line(value)
    except ValueError as exc:
        raise InputError.single(where, field, str(exc)) from None
    return value.strip() or None


def check_aware(value: datetime | None, *, where: str, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InputError.single(where, field, "a date and time with its offset from UTC")
    return value
