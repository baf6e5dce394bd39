"""What the console's pages do alike with what was typed or asked for: show a value again
without what was refused, read a list field line by line, read a page size, tell problems of
the page's address above the form, and write a time."""

from __future__ import annotations

from datetime import datetime

from notifier.numbers import as_id
from notifier.plain_text import without_bad_characters


def shown(text: str, longest: int | None = None) -> str:
    """A typed value as the page shows it again: the characters named beside the field (NUL
    and other controls) dropped, and (with `longest`) no more of it than a field may hold."""
    return without_bad_characters(text if longest is None else text[: longest + 1])


def lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of a list field, each with its line number (from 1)."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def page_size(text: str, errors: dict[str, str], *, usual: int, most: int) -> int:
    """The `limit` asked for (`usual` if none); a bad one is named under "limit"."""
    if text == "":
        return usual
    number = as_id(text[:12])
    if number is None or number > most:
        errors["limit"] = f"{text[:12]!r} rows per page; from 1 to {most}"
        return usual
    return number


def page_error(errors: dict[str, str], fields: tuple[str, ...]) -> None:
    """Problems with the page's address but no field of its form (the cursor, the page size):
    told above the form, by their name in the address."""
    for name in [n for n in errors if n not in fields and n != ""]:
        errors[""] = f"{name}: {errors.pop(name)}"


def when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at is not None else ""
