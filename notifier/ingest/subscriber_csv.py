"""Subscriber CSV files: read (ours, Listmonk's, Mailchimp's exports) and write (ours)."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from notifier.domain import Cadence, Channel
from notifier.domain.subscriber_specs import (
    SubscriberSpec,
    check_email,
    check_locale,
    check_name,
    check_time_zone,
    parse_cadence,
    parse_channel,
    parse_chat_id,
    parse_consent,
    parse_digest_schedule,
    parse_follow_token,
    parse_list_slugs,
    parse_moment,
    parse_status,
)
from notifier.errors import InputError, Problem
from notifier.ingest.spreadsheet_cells import spreadsheet_safe, spreadsheet_value

#: Our columns, in the order `export` writes them.
COLUMNS = [
    "email",
    "name",
    "status",
    "paused_until",
    "locale",
    "time_zone",
    "digest_schedule",
    "telegram_chat_id",
    "follows",
    "lists",
    "consent",
    "confirmed_at",
]

#: Header names other tools use (folded to lower case) -> our column.
ALIASES = {
    "email": "email",
    "e-mail": "email",
    "email address": "email",
    "email_address": "email",
    "e-mail address": "email",
    "name": "name",
    "full name": "name",
    "first name": "first_name",
    "fname": "first_name",
    "last name": "last_name",
    "lname": "last_name",
    "status": "status",
    "locale": "locale",
    "language": "locale",
    "time_zone": "time_zone",
    "timezone": "time_zone",
    "time zone": "time_zone",
    "digest_schedule": "digest_schedule",
    "digest schedule": "digest_schedule",
    "paused_until": "paused_until",
    "paused until": "paused_until",
    "telegram_chat_id": "telegram_chat_id",
    "telegram": "telegram_chat_id",
    "follows": "follows",
    "lists": "lists",
    "consent": "consent",
    "confirmed_at": "confirmed_at",
    "confirmed at": "confirmed_at",
    "confirm_time": "confirmed_at",  # Mailchimp: when the person confirmed
    "countries": "countries",
    "cases": "cases",
    "cadence": "cadence",
    "channel": "channel",
}


def _delimiter(header_line: str) -> str:
    """Comma or semicolon (Excel in much of Europe writes ';'), whichever the header uses."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_subscriber_csv(
    path: Path,
    *,
    cadence: Cadence = Cadence.INSTANT,
    channel: Channel = Channel.EMAIL,
) -> tuple[list[SubscriberSpec], list[str]]:
    """Every row of the file, each with its own problems; and notes (columns ignored).
    Raises InputError only when the file as a whole cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError.single(str(path), "", "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError.single(str(path), "", f"not UTF-8 text ({exc.reason})") from None
    return parse_subscriber_csv(text, str(path), cadence=cadence, channel=channel)


def parse_subscriber_csv(
    text: str,
    where: str,
    *,
    cadence: Cadence = Cadence.INSTANT,
    channel: Channel = Channel.EMAIL,
) -> tuple[list[SubscriberSpec], list[str]]:
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    rows = list(_rows(text, where, _delimiter(first_line)))
    if not rows:
        raise InputError.single(where, "", "the file is empty; it needs a header row")
    header = rows[0][1]
    columns = [ALIASES.get(h.strip().lower()) for h in header]
    ignored = [h for h, c in zip(header, columns, strict=True) if c is None and h.strip()]
    if "email" not in columns:
        raise InputError.single(
            f"{where}:1", "email", f"no email column in the header ({', '.join(header)})"
        )
    notes = [f"ignored columns: {', '.join(ignored)}"] if ignored else []
    specs: list[SubscriberSpec] = []
    seen: dict[str, str] = {}
    seen_chats: dict[int, str] = {}
    for line, raw in rows[1:]:
        if not any(cell.strip() for cell in raw):
            continue
        spec = _row(raw, columns, header, f"{where}:{line}", cadence=cadence, channel=channel)
        if spec.email is not None:
            if spec.email in seen:
                spec.problems.append(
                    Problem(
                        spec.where, "email", f"{spec.email} already appears at {seen[spec.email]}"
                    )
                )
            else:
                seen[spec.email] = spec.where
        chat = spec.telegram_chat_id
        if chat is not None:
            if chat in seen_chats:
                spec.problems.append(
                    Problem(
                        spec.where,
                        "telegram_chat_id",
                        f"{chat} already appears at {seen_chats[chat]}",
                    )
                )
            else:
                seen_chats[chat] = spec.where
        specs.append(spec)
    return specs, notes


def _rows(text: str, where: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each row with the line it starts on (a quoted cell may span lines). What the csv module
    cannot read, and a quote never closed, stop the file with the place named."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    end = last = 0
    while True:
        line = end + 1
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError([_unreadable(text, line, delimiter, where, exc)]) from None
        end, last = reader.line_num, line
        yield line, raw
    # Non-strict, the csv module reads a quote never closed into one cell to the end.
    if last and (opened := _open_quote(text, last, delimiter)) is not None:
        raise InputError([_swallowed(where, opened)])


def _unreadable(text: str, line: int, delimiter: str, where: str, exc: csv.Error) -> Problem:
    if "field limit" in str(exc):
        opened = _open_quote(text, line, delimiter)
        if opened is not None:
            return _swallowed(where, opened)
        return Problem(
            f"{where}:{line}",
            "",
            f"a cell longer than {csv.field_size_limit():,} characters, more than any "
            "column may hold",
        )
    return Problem(f"{where}:{line}", "", f"not valid CSV: {exc}")


def _swallowed(where: str, line: int) -> Problem:
    return Problem(
        f"{where}:{line}",
        "",
        f"the quote opened on line {line} is never closed: it swallowed the rest of the file",
    )


def _open_quote(text: str, line: int, delimiter: str) -> int | None:
    """The line of a quote that opens a cell in the row starting on `line` and is never
    closed, read as the csv module reads (a quote opens a cell only at its start; "" inside
    is a quote); None if the row ends."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
    at, cell_start = start, True
    while at < len(text):
        char = text[at]
        if cell_start and char == '"':
            close = text.find('"', at + 1)
            while close >= 0 and text.startswith('"', close + 1):
                close = text.find('"', close + 2)
            if close < 0:
                return line + text.count("\n", start, at)
            at, cell_start = close + 1, False
            continue
        if char == "\n":
            return None
        cell_start = char in (delimiter, "\r")
        at += 1
    return None


def _row(
    raw: list[str],
    columns: list[str | None],
    header: list[str],
    where: str,
    *,
    cadence: Cadence,
    channel: Channel,
) -> SubscriberSpec:
    spec = SubscriberSpec(where=where, email=None)
    if len(raw) != len(header):
        spec.problems.append(
            Problem(where, "row", f"has {len(raw)} columns, the header has {len(header)}")
        )
        return spec
    cells = {
        c: spreadsheet_value(v.strip()) for c, v in zip(columns, raw, strict=True) if c is not None
    }

    def check(column: str, parse: object) -> None:
        value = cells.get(column, "")
        if not value:
            return
        try:
            result = parse(value)  # type: ignore[operator]
        except ValueError as exc:
            spec.problems.append(Problem(where, column, str(exc)))
            return
        setattr(spec, column, result)

    if not cells.get("email"):
        spec.problems.append(Problem(where, "email", "is empty"))
    check("email", check_email)
    cells["name"] = cells.get("name") or " ".join(
        p for p in (cells.get("first_name", ""), cells.get("last_name", "")) if p
    )
    check("name", check_name)
    check("status", parse_status)
    check("time_zone", check_time_zone)
    check("digest_schedule", parse_digest_schedule)
    check("paused_until", parse_moment)
    check("telegram_chat_id", parse_chat_id)
    check("locale", check_locale)
    check("consent", parse_consent)
    check("confirmed_at", parse_moment)
    if "lists" in cells:
        spec.lists = []  # the column is there: an empty cell means on no list
        check("lists", parse_list_slugs)
    row_cadence, row_channel = cadence, channel
    try:
        if cells.get("cadence"):
            row_cadence = parse_cadence(cells["cadence"])
    except ValueError as exc:
        spec.problems.append(Problem(where, "cadence", str(exc)))
    try:
        if cells.get("channel"):
            row_channel = parse_channel(cells["channel"])
    except ValueError as exc:
        spec.problems.append(Problem(where, "channel", str(exc)))
    has_follows = any(c in cells for c in ("follows", "countries", "cases"))
    if has_follows:
        spec.follows = []
        # Each follow remembers its column, so a problem names the column the admin wrote.
        tokens = [("follows", t) for t in cells.get("follows", "").split()]
        tokens += [("countries", f"country={t}") for t in _split(cells.get("countries", ""))]
        tokens += [("cases", f"case={t}") for t in _split(cells.get("cases", ""))]
        for column, token in tokens:
            try:
                follow = parse_follow_token(token, cadence=row_cadence, channel=row_channel)
            except ValueError as exc:
                spec.problems.append(Problem(where, column, str(exc)))
                continue
            spec.follows.append(dataclasses.replace(follow, where=where, origin=column))
    return spec


def _split(cell: str) -> list[str]:
    return [t for t in cell.replace(",", " ").replace("|", " ").split() if t]


def write_subscriber_csv(rows: Iterable[dict[str, str]], *, header: bool = True) -> Iterator[str]:
    """Our CSV, line by line: what `read_subscriber_csv` reads back to the same state
    (`header=False`: the rows only, to follow lines already written)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
        yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({column: spreadsheet_safe(value) for column, value in row.items()})
        yield buffer.getvalue()
