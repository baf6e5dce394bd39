"""Digest schedules as lists write them: 'mon 07:00' (weekly) or '07:00' (daily)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from notifier.store.models import Cadence

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
