"""Digest schedules as lists write them: 'mon 07:00' (weekly) or '07:00' (daily).

A schedule's time is a wall-clock time in the list's or subscriber's zone, resolved per local
calendar day. DST rules, the same in `occurrences`, `last_due` and `next_due`:

* A time that does not exist on a spring-forward day (02:30 in Europe/Berlin on 2026-03-29) runs
  at the first instant after the gap, when the clocks show the end of the gap (03:00 CEST =
  01:00 UTC), as cron does; every time inside the gap runs at that same instant.
* A time that happens twice on a fall-back day (02:30 in Europe/Berlin on 2026-10-25) runs once,
  at its first occurrence (fold=0: 02:30 CEST = 00:30 UTC).

So a daily schedule is due exactly once per local calendar day, a weekly one once per local week.
All results are timezone-aware UTC datetimes; `now`/`start`/`end` must be timezone-aware.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.domain import Cadence

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PATTERN = re.compile(r"^(?:(?P<day>[a-z]{3})[a-z]*\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})$")


@dataclass(frozen=True)
class Schedule:
    """When a digest goes out, in the list's or subscriber's own time zone."""

    at: time
    weekday: int | None = None  # 0 = Monday; None = every day

    def __str__(self) -> str:
        hhmm = self.at.strftime("%H:%M")
        return hhmm if self.weekday is None else f"{DAYS[self.weekday]} {hhmm}"


def parse_schedule(text: str, cadence: Cadence) -> Schedule:
    """'mon 07:00' / 'Monday 7:00' for weekly, '07:00' for daily; ValueError says what is wrong."""
    match = _PATTERN.match(text.strip().lower())
    if not match:
        raise ValueError(f"schedule {text!r}: write 'mon 07:00' (weekly) or '07:00' (daily)")
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"schedule {text!r}: no such time of day")
    day = match["day"]
    weekday = None
    if day is not None:
        if day not in DAYS:
            raise ValueError(f"schedule {text!r}: unknown day {day!r} (mon … sun)")
        weekday = DAYS.index(day)
    if cadence is Cadence.WEEKLY and weekday is None:
        raise ValueError(f"schedule {text!r}: a weekly digest needs a day, e.g. 'mon 07:00'")
    if cadence is Cadence.DAILY and weekday is not None:
        raise ValueError(f"schedule {text!r}: a daily digest takes only a time, e.g. '07:00'")
    return Schedule(time(hour, minute), weekday)


# --- When a schedule is due -------------------------------------------------------------------
#
# One rule decides every instant, `_resolve`: the schedule's wall-clock time on a local calendar
# day, made into a UTC instant. `occurrences`, `last_due` and `next_due` all enumerate local days
# and resolve them, so they can never disagree about DST.

# How many local days either side of an instant's local date to look at: a day's instant can land
# on the next local day (a gap across midnight; gaps and overlaps are at most a day long).
_MARGIN_DAYS = 1


def _zone(zone: str | ZoneInfo) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _wall(schedule: Schedule) -> time:
    """The schedule's time as a plain wall-clock time (no tzinfo, fold=0)."""
    return schedule.at.replace(tzinfo=None, fold=0)


def _resolve(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `wall` (from `_wall`) on local `day` is due; DST rules above."""
    local = datetime.combine(day, wall, tz)
    before = local.utcoffset()
    after = local.replace(fold=1).utcoffset()
    if before is None or after is None:  # pragma: no cover - a ZoneInfo always has an offset
        raise ValueError(f"time zone {tz} gives no UTC offset for {local}")
    # PEP 495: fold=0 takes the offset in force before a transition, fold=1 the one after. They
    # agree for an ordinary time; for a repeated time (the offset drops) fold=0 is the first one.
    if before >= after:
        return local.astimezone(UTC)
    # A time in a gap: the transition lies between the two readings of it. Bisect for it, to the
    # second (transitions are on whole seconds); its wall-clock time is the end of the gap.
    naive = datetime.combine(day, wall)
    lo = (naive - after).replace(tzinfo=UTC)
    hi = (naive - before).replace(tzinfo=UTC)
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def _days(schedule: Schedule, start: date, step: int) -> Iterator[date]:
    """The local days the schedule runs on, from `start` onwards (step=1) or backwards (-1)."""
    day = start
    stride = step
    if schedule.weekday is not None:
        if step > 0:
            day += timedelta(days=(schedule.weekday - day.weekday()) % 7)
        else:
            day -= timedelta(days=(day.weekday() - schedule.weekday) % 7)
        stride = 7 * step
    while True:
        yield day
        day += timedelta(days=stride)


def _local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def occurrences(
    schedule: Schedule, zone: str | ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """Every instant the schedule is due with start < t <= end, ascending, as UTC datetimes.

    `start` and `end` must be timezone-aware. The schedule's time is a wall-clock time in `zone`,
    resolved once per local day (daily) or local week (weekly). A time that does not exist on a
    spring-forward day runs at the first instant after the gap (Europe/Berlin 2026-03-29 02:30 →
    03:00 CEST = 01:00 UTC); a time that happens twice on a fall-back day runs once, at its first
    occurrence (fold=0: Europe/Berlin 2026-10-25 02:30 → 02:30 CEST = 00:30 UTC).
    """
    _require_aware("start", start)
    _require_aware("end", end)
    tz, wall = _zone(zone), _wall(schedule)
    if end <= start:
        return []
    last_day = _local_date(end, tz) + timedelta(days=_MARGIN_DAYS)
    found: list[datetime] = []
    for day in _days(schedule, _local_date(start, tz) - timedelta(days=_MARGIN_DAYS), 1):
        if day > last_day:
            break
        instant = _resolve(day, wall, tz)
        # Two local days can only resolve to one instant if a gap swallows a whole day.
        if start < instant <= end and (not found or instant > found[-1]):
            found.append(instant)
    return found


def last_due(schedule: Schedule, zone: str | ZoneInfo, now: datetime) -> datetime:
    """The most recent instant the schedule was due, t <= now (now itself if due exactly then).

    `now` must be timezone-aware; the result is a UTC datetime. Same DST rules as `occurrences`:
    a time inside a spring-forward gap runs at the first instant after the gap, a time repeated on
    a fall-back day runs once, at its first occurrence (fold=0).
    """
    _require_aware("now", now)
    tz, wall = _zone(zone), _wall(schedule)
    for day in _days(schedule, _local_date(now, tz) + timedelta(days=_MARGIN_DAYS), -1):
        instant = _resolve(day, wall, tz)
        if instant <= now:
            return instant
    raise AssertionError("unreachable")  # pragma: no cover


def next_due(schedule: Schedule, zone: str | ZoneInfo, now: datetime) -> datetime:
    """The first instant the schedule is due after now, t > now (never now itself).

    `now` must be timezone-aware; the result is a UTC datetime. Same DST rules as `occurrences`:
    a time inside a spring-forward gap runs at the first instant after the gap, a time repeated on
    a fall-back day runs once, at its first occurrence (fold=0).
    """
    _require_aware("now", now)
    tz, wall = _zone(zone), _wall(schedule)
    for day in _days(schedule, _local_date(now, tz) - timedelta(days=_MARGIN_DAYS), 1):
        instant = _resolve(day, wall, tz)
        if instant > now:
            return instant
    raise AssertionError("unreachable")  # pragma: no cover


_PERIOD_FORMAT = "%Y-%m-%dT%H:%MZ"


def period_key(instant: datetime) -> str:
    """A stable id for the period ending at a due instant: UTC, minute precision.

    e.g. '2026-11-30T02:00Z'. The same instant gives the same key whatever zone it is expressed in.
    """
    _require_aware("instant", instant)
    return instant.astimezone(UTC).strftime(_PERIOD_FORMAT)


def period_end(key: str) -> datetime:
    """The instant a period key names (UTC, to the minute): where that period ended and the
    next one begins. ValueError for anything `period_key` does not write."""
    return datetime.strptime(key, _PERIOD_FORMAT).replace(tzinfo=UTC)
