"""Whole numbers from text that came from outside (URLs, forms, buttons)."""

from __future__ import annotations

import re

_INT = re.compile(r"-?[0-9]{1,18}")


def as_int(text: str) -> int | None:
    """The number written in ASCII digits (with an optional minus), else None. Not
    str.isdigit(): it accepts "³" and other digits that int() then refuses."""
    return int(text) if _INT.fullmatch(text) else None
