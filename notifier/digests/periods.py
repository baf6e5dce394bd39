"""When digests fall due, and how their periods are named and labelled."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.domain import Cadence
from notifier.domain.schedule import Schedule, last_due, parse_schedule, period_end
from notifier.render.templates import period_label
from notifier.store.models import DigestCursor, MailingList


def list_schedule(mailing_list: MailingList) -> Schedule:
    return parse_schedule(mailing_list.schedule, mailing_list.cadence)


def personal_schedule(cadence: Cadence, day: int, at: str) -> Schedule:
    hour, minute = (int(x) for x in at.split(":"))
    return Schedule(time(hour, minute), day if cadence is Cadence.WEEKLY else None)


def previous_due(schedule: Schedule, zone: str, instant: datetime) -> datetime:
    return last_due(schedule, zone, instant - timedelta(seconds=1))


def list_period_start(
    cursor: DigestCursor | None, mailing_list: MailingList, end: datetime
) -> datetime:
    """Where a list digest's period begins: where the list's last digest ended (on its day, or
    when it was sent by hand), else at the schedule's previous due time. So a digest sent by
    hand on a Wednesday is followed by one labelled from that Wednesday, not from the Monday
    before. (A cursor with no period, "", holds only where its news got to.)"""
    if cursor is not None and cursor.period:
        return period_end(cursor.period)
    return previous_due(list_schedule(mailing_list), mailing_list.time_zone, end)


def label_for(start: datetime | None, due: datetime, zone: str) -> str:
    tz = ZoneInfo(zone)
    return period_label(start.astimezone(tz).date() if start else None, due.astimezone(tz).date())
