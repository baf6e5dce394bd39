"""Cells a spreadsheet would run as formulas ("CSV injection"): a name typed into the public
sign-up form as `=HYPERLINK("http://…","…")` must reach the administrator's spreadsheet as
text. Export puts a `'` before every cell that starts with `=`, `+`, `-`, `@`, a tab or a CR
(OWASP's rule); import takes exactly that `'` back off, so an export imports back the same."""

from __future__ import annotations

import re

#: A cell a spreadsheet takes for a formula, after any `'` already there: the `'`s count too,
#: so that a name that itself starts with `'=` comes back as it was.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
#: A negative number is not a formula, and stays a number (a Telegram group's chat id).
_NEGATIVE_NUMBER = re.compile(r"-\d+(\.\d+)?")


def spreadsheet_safe(cell: str) -> str:
    """The cell as export writes it: text a spreadsheet shows and never runs."""
    if _FORMULA.match(cell) and not _NEGATIVE_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def spreadsheet_value(cell: str) -> str:
    """The cell as import reads it: the `'` export added taken off; any other `'` kept."""
    if cell.startswith("'") and _FORMULA.match(cell, 1):
        return cell[1:]
    return cell
