"""Sample data for checking templates before anything is sent (and for previews)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from markupsafe import Markup

from notifier.domain.views import ActionView, CaseSection, CaseView, CountrySection, UpdateView
from notifier.render.marks import PERSONAL_MARK

_CASE = CaseView(
    id=1,
    slug="sample-case",
    name="Sample Person",
    role="pastor",
    country="KZ",
    country_name="Kazakhstan",
    status="detained",
    summary=("A summary <with> characters that need escaping & more.",),
    letter_address=("Sample Person", "Prison 1", "010000 City"),
    letter_guidance="Write words of support.",
    actions=(
        ActionView("pray", "Pray for them.", ()),
        ActionView("write", "Write a letter.", ("Sample Person", "Prison 1")),
        ActionView("contact", "Contact the embassy.", ()),
    ),
    prayer=("Lord, hear our prayer.",),
)
_UPDATE = UpdateView(
    id=1,
    date=date(2024, 1, 2),
    title="Sample update",
    paragraphs=("First paragraph.", "Second paragraph."),
    source_name="Sample Source",
    source_url="https://example.org/source",
    urgent=True,
)


def sample_contexts() -> dict[str, dict[str, Any]]:
    """A context for every template in TEMPLATES."""
    base = {
        "locale": "en",
        "public_url": "https://notifier.example.org",
        "network": "Kazakhstan prayer network",
    }
    alert = base | {"case": _CASE, "update": _UPDATE}
    # Two updates, the second shown as a headline only (as in a digest over its size budget),
    # so a template's use of both forms is checked.
    later = replace(_UPDATE, id=2, title="A later update")
    sections = (CountrySection("KZ", "Kazakhstan", (CaseSection(_CASE, (_UPDATE, later)),)),)
    digest = base | {
        "title": "Sample list",
        "intro": ("An introduction.",),
        "sections": sections,
        "period_label": "1 – 7 January 2024",
        "update_count": 2,
        "brief": frozenset({2}),
        "web_copy_url": "https://notifier.example.org/digests/x",
    }
    footer = {
        "name": "Anna",
        "email": "anna@example.org",
        "reason": "you follow Kazakhstan",
        "unsubscribe_url": "https://notifier.example.org/u/x",
        "preferences_url": "https://notifier.example.org/p/x",
        "web_url": "https://notifier.example.org/digests/x",
    }
    confirm = {
        "network": "Kazakhstan prayer network",
        "name": "Anna",
        "what": "Kazakhstan",
        "confirm_url": "https://notifier.example.org/confirm/x",
        "valid_days": 3,
    }
    return {
        "email/confirm_subject.txt": confirm,
        "email/confirm.txt": confirm,
        "email/confirm.html": confirm,
        "email/alert_subject.txt": alert,
        "email/alert.txt": alert | {"personal": PERSONAL_MARK},
        "email/alert.html": alert | {"personal": Markup(PERSONAL_MARK)},
        "email/digest_subject.txt": digest,
        "email/digest.txt": digest | {"personal": PERSONAL_MARK},
        "email/digest.html": digest | {"personal": Markup(PERSONAL_MARK)},
        "email/footer.txt": footer,
        "email/footer.html": footer,
        "telegram/alert.html": alert,
        "telegram/digest.html": digest,
        "telegram/footer.html": {"group": False},
    }
