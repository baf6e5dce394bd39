"""Digest schedules: parsing, and when a schedule is due in its own time zone (DST included).

Expected instants are written out by hand in UTC, from the zone's offsets on that day:
Europe/Berlin +01/+02 (2026: gap 03-29 02:00-03:00, overlap 10-25 02:00-03:00),
America/New_York -05/-04 (2026: gap 03-08 02:00-03:00, overlap 11-01 01:00-02:00),
Australia/Sydney +10/+11 (2026: overlap 04-05 02:00-03:00, gap 10-04 02:00-03:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from notifier.domain import Cadence
from notifier.domain.schedule import (
    Schedule,
    last_due,
    next_due,
    occurrences,
    parse_schedule,
    period_key,
)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def daily(hhmm: str) -> Schedule:
    return parse_schedule(hhmm, Cadence.DAILY)


def weekly(text: str) -> Schedule:
    return parse_schedule(text, Cadence.WEEKLY)


# --- parse_schedule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cadence", "expected"),
    [
        pytest.param("mon 07:00", Cadence.WEEKLY, Schedule(time(7, 0), 0), id="mon-07:00"),
        pytest.param("Monday 7:00", Cadence.WEEKLY, Schedule(time(7, 0), 0), id="Monday-7:00"),
        pytest.param("  SUN 23:59 ", Cadence.WEEKLY, Schedule(time(23, 59), 6), id="SUN-23:59"),
        pytest.param("07:00", Cadence.DAILY, Schedule(time(7, 0)), id="daily-07:00"),
        pytest.param("0:05", Cadence.DAILY, Schedule(time(0, 5)), id="daily-0:05"),
    ],
)
def test_parse_schedule(text: str, cadence: Cadence, expected: Schedule) -> None:
    assert parse_schedule(text, cadence) == expected


def test_monday_7_00_reads_back_as_mon_07_00() -> None:
    assert str(parse_schedule("Monday 7:00", Cadence.WEEKLY)) == "mon 07:00"


@pytest.mark.parametrize(
    ("text", "cadence", "message"),
    [
        pytest.param("07:00", Cadence.WEEKLY, "weekly digest needs a day", id="weekly-no-day"),
        pytest.param("mon 07:00", Cadence.DAILY, "daily digest takes only a time", id="daily-day"),
        pytest.param("25:00", Cadence.DAILY, "no such time of day", id="25:00"),
        pytest.param("07:60", Cadence.DAILY, "no such time of day", id="07:60"),
        pytest.param("funday 07:00", Cadence.WEEKLY, "unknown day 'fun'", id="funday"),
        pytest.param("mon 7", Cadence.WEEKLY, "write 'mon 07:00'", id="no-minutes"),
        pytest.param("", Cadence.DAILY, "write 'mon 07:00'", id="empty"),
    ],
)
def test_parse_schedule_errors(text: str, cadence: Cadence, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text, cadence)


# --- weekly mon 07:00 in Asia/Almaty (+05; +06 until 2024-03-01) --------------------------------

MON_7 = weekly("mon 07:00")


@pytest.mark.parametrize(
    ("now", "last", "next_"),
    [
        pytest.param(
            utc(2026, 11, 25, 12), utc(2026, 11, 23, 2), utc(2026, 11, 30, 2), id="wednesday"
        ),
        pytest.param(
            utc(2026, 11, 30, 2), utc(2026, 11, 30, 2), utc(2026, 12, 7, 2), id="exactly-due"
        ),
        pytest.param(
            utc(2026, 11, 30, 1, 59, 59),
            utc(2026, 11, 23, 2),
            utc(2026, 11, 30, 2),
            id="a-second-before",
        ),
        pytest.param(
            utc(2026, 11, 30, 2, 0, 1),
            utc(2026, 11, 30, 2),
            utc(2026, 12, 7, 2),
            id="a-second-after",
        ),
        pytest.param(
            utc(2026, 11, 29, 19), utc(2026, 11, 23, 2), utc(2026, 11, 30, 2), id="mon-00:00-local"
        ),
        pytest.param(
            utc(2026, 11, 29, 18, 59),
            utc(2026, 11, 23, 2),
            utc(2026, 11, 30, 2),
            id="sun-23:59-local",
        ),
        pytest.param(
            utc(2026, 12, 31, 23, 59), utc(2026, 12, 28, 2), utc(2027, 1, 4, 2), id="new-year-eve"
        ),
        pytest.param(
            utc(2027, 1, 4, 2), utc(2027, 1, 4, 2), utc(2027, 1, 11, 2), id="first-monday-2027"
        ),
        pytest.param(
            utc(2024, 2, 29, 12), utc(2024, 2, 26, 1), utc(2024, 3, 4, 2), id="across-+06-to-+05"
        ),
    ],
)
def test_weekly_in_almaty(now: datetime, last: datetime, next_: datetime) -> None:
    assert last_due(MON_7, "Asia/Almaty", now) == last
    assert next_due(MON_7, "Asia/Almaty", now) == next_
    assert last_due(MON_7, ZoneInfo("Asia/Almaty"), now) == last  # a ZoneInfo works too


def test_now_in_another_zone_is_the_same_instant() -> None:
    now = datetime(2026, 11, 30, 7, 0, tzinfo=ZoneInfo("Asia/Almaty"))  # == 02:00 UTC
    assert last_due(MON_7, "Asia/Almaty", now) == utc(2026, 11, 30, 2)
    assert next_due(MON_7, "Asia/Almaty", now) == utc(2026, 12, 7, 2)


def test_results_are_utc() -> None:
    for instant in (
        last_due(MON_7, "Asia/Almaty", utc(2026, 6, 1)),
        next_due(MON_7, "Asia/Almaty", utc(2026, 6, 1)),
        *occurrences(MON_7, "Asia/Almaty", utc(2026, 6, 1), utc(2026, 7, 1)),
    ):
        assert instant.tzinfo is UTC


# --- daily 07:00 in zones near and far from UTC ---------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "last", "next_"),
    [
        pytest.param("UTC", utc(2026, 6, 15, 7), utc(2026, 6, 16, 7), id="UTC"),
        pytest.param(
            "Asia/Kathmandu", utc(2026, 6, 15, 1, 15), utc(2026, 6, 16, 1, 15), id="Kathmandu+0545"
        ),
        pytest.param("Asia/Almaty", utc(2026, 6, 15, 2), utc(2026, 6, 16, 2), id="Almaty+05"),
        pytest.param(
            "Pacific/Kiritimati", utc(2026, 6, 14, 17), utc(2026, 6, 15, 17), id="Kiritimati+14"
        ),
        pytest.param(
            "Pacific/Pago_Pago", utc(2026, 6, 14, 18), utc(2026, 6, 15, 18), id="Pago_Pago-11"
        ),
        pytest.param(
            "America/New_York", utc(2026, 6, 15, 11), utc(2026, 6, 16, 11), id="New_York-04"
        ),
        pytest.param(
            "Australia/Sydney", utc(2026, 6, 14, 21), utc(2026, 6, 15, 21), id="Sydney+10"
        ),
    ],
)
def test_daily_in_many_zones(zone: str, last: datetime, next_: datetime) -> None:
    now = utc(2026, 6, 15, 12)
    schedule = daily("07:00")
    assert last_due(schedule, zone, now) == last
    assert next_due(schedule, zone, now) == next_
    assert last_due(schedule, zone, last) == last
    assert next_due(schedule, zone, last) == next_
    assert occurrences(schedule, zone, last, next_) == [next_]


@pytest.mark.parametrize(
    ("zone", "now", "last", "next_"),
    [
        pytest.param(
            "Pacific/Kiritimati",
            utc(2026, 12, 31, 16),  # 2027-01-01 06:00 local
            utc(2026, 12, 30, 17),
            utc(2026, 12, 31, 17),
            id="Kiritimati-new-year-already-local",
        ),
        pytest.param(
            "Pacific/Pago_Pago",
            utc(2027, 1, 1, 12),  # 2027-01-01 01:00 local
            utc(2026, 12, 31, 18),
            utc(2027, 1, 1, 18),
            id="Pago_Pago-last-in-old-year",
        ),
        pytest.param(
            "Asia/Kathmandu",
            utc(2027, 1, 1, 1, 15),
            utc(2027, 1, 1, 1, 15),
            utc(2027, 1, 2, 1, 15),
            id="Kathmandu-exactly-due-new-year",
        ),
    ],
)
def test_daily_year_boundary(zone: str, now: datetime, last: datetime, next_: datetime) -> None:
    schedule = daily("07:00")
    assert last_due(schedule, zone, now) == last
    assert next_due(schedule, zone, now) == next_


# --- DST: gap (time runs at the end of the gap) and overlap (time runs once, first occurrence) ----

DST_CASES = [
    # Europe/Berlin spring forward 2026-03-29: 02:00 CET -> 03:00 CEST (01:00 UTC)
    ("Europe/Berlin", date(2026, 3, 29), "01:59", utc(2026, 3, 29, 0, 59), "before-gap"),
    ("Europe/Berlin", date(2026, 3, 29), "02:00", utc(2026, 3, 29, 1), "gap-start"),
    ("Europe/Berlin", date(2026, 3, 29), "02:30", utc(2026, 3, 29, 1), "in-gap"),
    ("Europe/Berlin", date(2026, 3, 29), "02:59", utc(2026, 3, 29, 1), "gap-end"),
    ("Europe/Berlin", date(2026, 3, 29), "03:00", utc(2026, 3, 29, 1), "after-gap"),
    ("Europe/Berlin", date(2026, 3, 29), "03:01", utc(2026, 3, 29, 1, 1), "after-gap+1"),
    ("Europe/Berlin", date(2026, 3, 28), "02:30", utc(2026, 3, 28, 1, 30), "day-before-gap"),
    ("Europe/Berlin", date(2026, 3, 30), "02:30", utc(2026, 3, 30, 0, 30), "day-after-gap"),
    # Europe/Berlin fall back 2026-10-25: 03:00 CEST -> 02:00 CET (01:00 UTC)
    ("Europe/Berlin", date(2026, 10, 25), "01:59", utc(2026, 10, 24, 23, 59), "before-overlap"),
    ("Europe/Berlin", date(2026, 10, 25), "02:00", utc(2026, 10, 25, 0, 0), "overlap-start"),
    ("Europe/Berlin", date(2026, 10, 25), "02:30", utc(2026, 10, 25, 0, 30), "in-overlap"),
    ("Europe/Berlin", date(2026, 10, 25), "02:59", utc(2026, 10, 25, 0, 59), "overlap-end"),
    ("Europe/Berlin", date(2026, 10, 25), "03:00", utc(2026, 10, 25, 2), "after-overlap"),
    ("Europe/Berlin", date(2026, 10, 24), "02:30", utc(2026, 10, 24, 0, 30), "day-before-overlap"),
    ("Europe/Berlin", date(2026, 10, 26), "02:30", utc(2026, 10, 26, 1, 30), "day-after-overlap"),
    # America/New_York spring forward 2026-03-08: 02:00 EST -> 03:00 EDT (07:00 UTC)
    ("America/New_York", date(2026, 3, 8), "01:59", utc(2026, 3, 8, 6, 59), "before-gap"),
    ("America/New_York", date(2026, 3, 8), "02:00", utc(2026, 3, 8, 7), "gap-start"),
    ("America/New_York", date(2026, 3, 8), "02:30", utc(2026, 3, 8, 7), "in-gap"),
    ("America/New_York", date(2026, 3, 8), "03:00", utc(2026, 3, 8, 7), "after-gap"),
    ("America/New_York", date(2026, 3, 8), "03:01", utc(2026, 3, 8, 7, 1), "after-gap+1"),
    # America/New_York fall back 2026-11-01: 02:00 EDT -> 01:00 EST (06:00 UTC)
    ("America/New_York", date(2026, 11, 1), "00:59", utc(2026, 11, 1, 4, 59), "before-overlap"),
    ("America/New_York", date(2026, 11, 1), "01:00", utc(2026, 11, 1, 5), "overlap-start"),
    ("America/New_York", date(2026, 11, 1), "01:30", utc(2026, 11, 1, 5, 30), "in-overlap"),
    ("America/New_York", date(2026, 11, 1), "01:59", utc(2026, 11, 1, 5, 59), "overlap-end"),
    ("America/New_York", date(2026, 11, 1), "02:00", utc(2026, 11, 1, 7), "after-overlap"),
    # Australia/Sydney fall back 2026-04-05: 03:00 AEDT -> 02:00 AEST (2026-04-04 16:00 UTC)
    ("Australia/Sydney", date(2026, 4, 5), "01:59", utc(2026, 4, 4, 14, 59), "before-overlap"),
    ("Australia/Sydney", date(2026, 4, 5), "02:00", utc(2026, 4, 4, 15), "overlap-start"),
    ("Australia/Sydney", date(2026, 4, 5), "02:30", utc(2026, 4, 4, 15, 30), "in-overlap"),
    ("Australia/Sydney", date(2026, 4, 5), "02:59", utc(2026, 4, 4, 15, 59), "overlap-end"),
    ("Australia/Sydney", date(2026, 4, 5), "03:00", utc(2026, 4, 4, 17), "after-overlap"),
    # Australia/Sydney spring forward 2026-10-04: 02:00 AEST -> 03:00 AEDT (2026-10-03 16:00 UTC)
    ("Australia/Sydney", date(2026, 10, 4), "01:59", utc(2026, 10, 3, 15, 59), "before-gap"),
    ("Australia/Sydney", date(2026, 10, 4), "02:00", utc(2026, 10, 3, 16), "gap-start"),
    ("Australia/Sydney", date(2026, 10, 4), "02:30", utc(2026, 10, 3, 16), "in-gap"),
    ("Australia/Sydney", date(2026, 10, 4), "03:00", utc(2026, 10, 3, 16), "after-gap"),
    ("Australia/Sydney", date(2026, 10, 4), "03:01", utc(2026, 10, 3, 16, 1), "after-gap+1"),
]


@pytest.mark.parametrize(
    ("zone", "day", "hhmm", "due"),
    [pytest.param(z, d, t, due, id=f"{z}-{d}-{t}-{label}") for z, d, t, due, label in DST_CASES],
)
def test_daily_across_dst(zone: str, day: date, hhmm: str, due: datetime) -> None:
    schedule = daily(hhmm)
    # The neighbouring days' instants are 23-25 h away, so +-12 h brackets exactly this one.
    assert next_due(schedule, zone, due - timedelta(hours=12)) == due
    assert last_due(schedule, zone, due + timedelta(hours=12)) == due
    assert last_due(schedule, zone, due) == due  # now exactly on the instant
    assert next_due(schedule, zone, due - timedelta(seconds=1)) == due
    assert last_due(schedule, zone, due - timedelta(seconds=1)) < due
    following = next_due(schedule, zone, due)
    assert timedelta(hours=20) < following - due < timedelta(hours=28)
    assert occurrences(schedule, zone, due - timedelta(hours=12), due + timedelta(hours=12)) == [
        due
    ]
    # ...and it is the local day asked for: once per local calendar day.
    assert due.astimezone(ZoneInfo(zone)).date() == day


@pytest.mark.parametrize(
    ("schedule", "zone", "start", "expected"),
    [
        pytest.param(
            weekly("mon 07:00"),
            "Europe/Berlin",
            utc(2026, 3, 20),
            [utc(2026, 3, 23, 6), utc(2026, 3, 30, 5), utc(2026, 4, 6, 5)],
            id="Berlin-mon-07:00-spring",
        ),
        pytest.param(
            weekly("sun 02:30"),
            "Europe/Berlin",
            utc(2026, 3, 20),
            [utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 1), utc(2026, 4, 5, 0, 30)],
            id="Berlin-sun-02:30-in-gap",
        ),
        pytest.param(
            weekly("sun 02:30"),
            "Europe/Berlin",
            utc(2026, 10, 15),
            [utc(2026, 10, 18, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 11, 1, 1, 30)],
            id="Berlin-sun-02:30-in-overlap",
        ),
        pytest.param(
            weekly("sun 01:30"),
            "America/New_York",
            utc(2026, 10, 29),
            [utc(2026, 11, 1, 5, 30), utc(2026, 11, 8, 6, 30), utc(2026, 11, 15, 6, 30)],
            id="New_York-sun-01:30-in-overlap",
        ),
        pytest.param(
            weekly("sun 02:30"),
            "Australia/Sydney",
            utc(2026, 9, 24),
            [utc(2026, 9, 26, 16, 30), utc(2026, 10, 3, 16), utc(2026, 10, 10, 15, 30)],
            id="Sydney-sun-02:30-in-gap",
        ),
        pytest.param(
            weekly("mon 07:00"),
            "Asia/Almaty",
            utc(2024, 2, 21),
            [utc(2024, 2, 26, 1), utc(2024, 3, 4, 2), utc(2024, 3, 11, 2)],
            id="Almaty-mon-07:00-+06-to-+05",
        ),
    ],
)
def test_three_weeks_give_three_weekly_instants(
    schedule: Schedule, zone: str, start: datetime, expected: list[datetime]
) -> None:
    assert occurrences(schedule, zone, start, start + timedelta(weeks=3)) == expected


@pytest.mark.parametrize(
    ("zone", "start", "first"),
    [
        pytest.param("Europe/Berlin", utc(2026, 3, 25, 12), utc(2026, 3, 26, 6), id="Berlin"),
        pytest.param("Australia/Sydney", utc(2026, 4, 1), utc(2026, 4, 1, 20), id="Sydney"),
        pytest.param(
            "Pacific/Kiritimati", utc(2026, 12, 25), utc(2026, 12, 25, 17), id="Kiritimati"
        ),
    ],
)
def test_ten_days_of_downtime_give_ten_daily_instants(
    zone: str, start: datetime, first: datetime
) -> None:
    schedule = daily("07:00")
    found = occurrences(schedule, zone, start, start + timedelta(days=10))
    assert len(found) == 10
    assert found[0] == first
    assert found == sorted(set(found))
    local_days = [t.astimezone(ZoneInfo(zone)).date() for t in found]
    assert local_days == [local_days[0] + timedelta(days=i) for i in range(10)]


def test_downtime_across_the_berlin_gap_lists_each_day() -> None:
    found = occurrences(daily("07:00"), "Europe/Berlin", utc(2026, 3, 25, 12), utc(2026, 4, 4, 12))
    assert found == [utc(2026, 3, d, 6) for d in (26, 27, 28)] + [
        utc(2026, 3, d, 5) for d in (29, 30, 31)
    ] + [utc(2026, 4, d, 5) for d in (1, 2, 3, 4)]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(utc(2026, 11, 30, 2), utc(2026, 11, 30, 2), [], id="empty-span"),
        pytest.param(utc(2026, 12, 1), utc(2026, 11, 1), [], id="reversed-span"),
        pytest.param(utc(2026, 11, 30, 2), utc(2026, 12, 7, 2), [utc(2026, 12, 7, 2)], id="(a,b]"),
        pytest.param(
            utc(2026, 11, 30, 1, 59), utc(2026, 12, 7, 1, 59), [utc(2026, 11, 30, 2)], id="shifted"
        ),
    ],
)
def test_occurrences_excludes_start_and_includes_end(
    start: datetime, end: datetime, expected: list[datetime]
) -> None:
    assert occurrences(MON_7, "Asia/Almaty", start, end) == expected


# --- invariants over a whole year -----------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney"])
@pytest.mark.parametrize(
    "schedule",
    [daily("02:30"), weekly("sun 02:30")],
    ids=["daily-02:30", "weekly-sun-02:30"],
)
def test_invariants_every_hour_of_a_year(schedule: Schedule, zone: str) -> None:
    start = utc(2026, 1, 1)
    end = utc(2027, 1, 1)
    expected = occurrences(schedule, zone, start - timedelta(days=8), end + timedelta(days=8))
    # Once per local calendar day (daily) or local week (weekly), never twice.
    local_days = [t.astimezone(ZoneInfo(zone)).date() for t in expected]
    step = timedelta(days=1 if schedule.weekday is None else 7)
    assert all(b - a == step for a, b in pairwise(local_days))
    index = 0
    now = start
    while now < end:
        while expected[index + 1] <= now:
            index += 1
        last = last_due(schedule, zone, now)
        following = next_due(schedule, zone, now)
        assert last <= now < following
        assert (last, following) == (expected[index], expected[index + 1])
        assert next_due(schedule, zone, last) == following
        now += timedelta(hours=1)


def test_year_has_one_daily_instant_per_local_day() -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 1, 1, tzinfo=zone) - timedelta(microseconds=1)
    end = datetime(2027, 1, 1, tzinfo=zone) - timedelta(microseconds=1)
    for hhmm in ("00:00", "02:00", "02:30", "03:00", "23:59"):
        found = occurrences(daily(hhmm), zone, start, end)
        assert len(found) == 365, hhmm
        assert len({t.astimezone(zone).date() for t in found}) == 365, hhmm


# --- period_key and argument checks -----------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "key"),
    [
        pytest.param(utc(2026, 11, 30, 2), "2026-11-30T02:00Z", id="utc"),
        pytest.param(
            datetime(2026, 11, 30, 7, tzinfo=ZoneInfo("Asia/Almaty")),
            "2026-11-30T02:00Z",
            id="almaty-same-instant",
        ),
        pytest.param(
            datetime(2026, 10, 25, 2, 30, fold=0, tzinfo=ZoneInfo("Europe/Berlin")),
            "2026-10-25T00:30Z",
            id="berlin-fold0",
        ),
        pytest.param(
            datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
            "2026-10-25T01:30Z",
            id="berlin-fold1",
        ),
        pytest.param(
            datetime(2027, 1, 1, 6, tzinfo=ZoneInfo("Pacific/Kiritimati")),
            "2026-12-31T16:00Z",
            id="kiritimati-year-back",
        ),
    ],
)
def test_period_key(instant: datetime, key: str) -> None:
    assert period_key(instant) == key


def test_period_key_is_stable_for_due_instants() -> None:
    now = utc(2026, 11, 25, 12)
    assert period_key(next_due(MON_7, "Asia/Almaty", now)) == "2026-11-30T02:00Z"
    assert period_key(last_due(MON_7, "Asia/Almaty", utc(2026, 11, 30, 2))) == "2026-11-30T02:00Z"


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 30, 2)
    with pytest.raises(ValueError, match="timezone-aware"):
        last_due(MON_7, "Asia/Almaty", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due(MON_7, "Asia/Almaty", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences(MON_7, "Asia/Almaty", naive, utc(2026, 12, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        period_key(naive)
