"""Whole numbers from text that came from outside (URLs, forms, buttons)."""

from __future__ import annotations

import re

_INT = re.compile(r"-?[0-9]{1,18}")
#: The largest id the store hands out: its INTEGER primary keys are 32-bit on PostgreSQL, which
#: refuses a larger number in a query instead of finding nothing.
MAX_ID = 2**31 - 1


def as_int(text: str) -> int | None:
    """The number written in ASCII digits (with an optional minus), else None. Not
    str.isdigit(): it accepts "³" and other digits that int() then refuses."""
    return int(text) if _INT.fullmatch(text) else None


def as_id(text: str) -> int | None:
    """The store id written in `text` (1 to MAX_ID), else None: no such row can exist."""
    number = as_int(text)
    return number if number is not None and 1 <= number <= MAX_ID else None
