"""What readers see of a case in every message: its letter address wherever they are asked to
write, its status in words, and a heading on the prayer."""

from __future__ import annotations

import re
from datetime import date

import pytest

from notifier.domain import CaseStatus, Channel, Severity
from notifier.domain.status_words import STATUS_WORDS, status_words
from notifier.render.messages import FinalMessage, Personal
from notifier.store.models import Case, Update
from notifier.store.views import case_view, update_view
from tests.helpers import html_text
from tests.render_samples import renderer

READER = Personal(
    name="Anna",
    email="anna@example.org",
    reason="you follow news from Kazakhstan",
    unsubscribe_url="https://notifier.example.org/unsubscribe/x",
    preferences_url="https://notifier.example.org/preferences/x",
)
PRISON = "V. Petrov, inmate 1234\nPrison Colony 4\n010000 Astana"
PRISON_LINES = ("V. Petrov, inmate 1234", "Prison Colony 4", "010000 Astana")
COURT = "The Chairman\nSupreme Court\n010001 Astana"


def case(
    *, actions: list[dict[str, str]], status: CaseStatus = CaseStatus.IMPRISONED, prayer: str = ""
) -> Case:
    return Case(
        id=5,
        slug="vasily-petrov",
        name="Vasily Petrov",
        role="",
        country="KZ",
        status=status,
        summary="",
        letter_address=PRISON,
        letter_guidance="",
        actions=actions,
        prayer=prayer,
        sources=[],
        published=True,
    )


UPDATE = Update(
    id=1,
    case_id=5,
    key="u1",
    event_date=date(2024, 5, 1),
    title="Moved to another prison",
    body="He was moved.",
    source_name="Forum 18",
    source_url=None,
    severity=Severity.NORMAL,
)


def outputs(row: Case) -> dict[str, str]:
    """The alert as a reader gets it: email text, email HTML (as text) and Telegram (as text)."""
    r = renderer()
    view = case_view(row)
    email: FinalMessage = r.personalise(
        r.alert(view, update_view(UPDATE), Channel.EMAIL, "en"), READER
    )
    telegram = r.personalise(r.alert(view, update_view(UPDATE), Channel.TELEGRAM, "en"), READER)
    return {
        "text": email.text,
        "html": html_text(email.html)[0],
        "telegram": html_text(telegram.text)[0],
        "raw html": email.html,
    }


@pytest.mark.parametrize(
    "actions",
    [
        [{"kind": "write", "text": "Write him a letter."}],
        [{"kind": "pray", "text": "Pray."}, {"kind": "write", "text": "Write him a letter."}],
        # Two write actions without an address: the address is given once.
        [{"kind": "write", "text": "Write him."}, {"kind": "write", "text": "Write his wife."}],
    ],
)
def test_a_write_action_without_an_address_shows_the_case_letter_address(
    actions: list[dict[str, str]],
) -> None:
    for name, output in outputs(case(actions=actions)).items():
        if name == "raw html":
            continue
        flat = " ".join(output.split())
        for line in PRISON_LINES:
            assert flat.count(line) == 1, (name, line, flat)
        # Under the action that asks for a letter, not as a separate item.
        assert "Write a letter to" not in flat, name
        assert flat.index("Write him") < flat.index("Prison Colony 4"), name


def test_a_write_action_to_someone_else_leaves_the_prison_address_shown_too() -> None:
    actions = [{"kind": "write", "text": "Write to the court.", "address": COURT}]
    for name, output in outputs(case(actions=actions)).items():
        if name == "raw html":
            continue
        flat = " ".join(output.split())
        assert flat.count("Supreme Court") == 1, name
        assert "Write a letter to" in flat, name
        for line in PRISON_LINES:
            assert flat.count(line) == 1, (name, line)


def test_a_write_action_with_the_same_address_says_it_once() -> None:
    actions = [{"kind": "write", "text": "Write him a letter.", "address": PRISON}]
    for name, output in outputs(case(actions=actions)).items():
        if name == "raw html":
            continue
        assert " ".join(output.split()).count("Prison Colony 4") == 1, name
        assert "Write a letter to" not in output, name


def test_every_status_has_words_a_reader_reads() -> None:
    assert set(STATUS_WORDS) == set(CaseStatus)
    for status in CaseStatus:
        words = status_words(status)
        assert words
        assert "_" not in words
        assert words == words.lower()
    assert status_words(CaseStatus.PROBATION) == "on probation"
    assert status_words(CaseStatus.EXILED) == "in exile"
    assert status_words(CaseStatus.HOUSE_ARREST) == "under house arrest"


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (CaseStatus.PROBATION, "on probation"),
        (CaseStatus.EXILED, "in exile"),
        (CaseStatus.AWAITING_TRIAL, "awaiting trial"),
        (CaseStatus.IMPRISONED, "in prison"),
    ],
)
def test_messages_show_the_status_in_words(status: CaseStatus, words: str) -> None:
    out = outputs(case(actions=[], status=status))
    assert f"Status: {words}\n" in out["text"]
    assert f"Kazakhstan · {words}" in out["html"]
    assert f"Kazakhstan · {words}" in out["telegram"]
    for output in out.values():
        assert status.value not in re.sub(re.escape(words), "", output)


def test_the_html_prayer_has_a_heading_like_the_text() -> None:
    out = outputs(case(actions=[], prayer="Lord, hear us."))
    assert "A prayer\n\nLord, hear us." in out["text"]
    heading = re.search(r"<h4[^>]*>A prayer</h4>\s*<p[^>]*>Lord, hear us.</p>", out["raw html"])
    assert heading is not None, out["raw html"]
