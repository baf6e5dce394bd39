"""The stable key of an update within its case: how an update imported again, or entered twice,
is known to be one already stored. Apart from the case-file parser, so that the store and the
commands that only read it do not load YAML and the case-file schema."""

from __future__ import annotations

from datetime import date

from notifier.countries import fold


def update_key(day: date, title: str) -> str:
    """The default stable key of an update: '2014-02-27-released-from-prison'."""
    return f"{day.isoformat()}-{fold(title).replace(' ', '-')}"[:200]
