"""The application layer (notifier.app) on its own, as a face other than the CLI and the API
would use it: each task in one call, plain results, notifier's own errors; and the one check
of a new subscriber naming each problem as the face that asked names its fields."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from notifier import app as tasks
from notifier.config import Settings
from notifier.domain import Consent
from notifier.domain.actors import Actor
from notifier.errors import ConflictError, InputError, NotFoundError
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.ingest.list_files import load_list_files
from notifier.store.engine import Store

ROOT = Path(__file__).resolve().parent.parent
PASTOR = "kashkumbaev"  # a spelling of the case's name
PASTOR_SLUG = "bakhytzhan-kashkumbayev"
CHAIN = "kazakhstan-prayer-chain"
BY = Actor.cli("tester")


def test_the_layer_loads_no_face_and_exports_what_it_says() -> None:
    code = (
        "import json, sys, notifier.app\n"
        "faces = {'notifier.cli', 'notifier.web', 'notifier.bot'}\n"
        "print(json.dumps(sorted(m for m in sys.modules if '.'.join(m.split('.')[:2]) in faces)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == []
    assert all(hasattr(tasks, name) for name in tasks.__all__)


def test_one_check_names_each_problem_as_the_face_asking_names_its_field() -> None:
    form = tasks.SubscriberForm(
        email="not-an-email",
        follows=[tasks.FollowEntry("country=Atlantis", "follows.0")],
        time_zone="Mars/Olympus",
        cadence="hourly",
    )
    with pytest.raises(InputError) as plain:
        tasks.check_subscriber(form, where="console")
    assert [(p.where, p.field) for p in plain.value.problems] == [
        ("console", "email"),
        ("console", "time_zone"),
        ("console", "cadence"),
        ("console", "follows.0"),
    ]
    with pytest.raises(InputError) as renamed:
        tasks.check_subscriber(form, where="cli", fields={"email": "EMAIL", "cadence": "--cad"})
    assert [p.field for p in renamed.value.problems] == ["EMAIL", "time_zone", "--cad", "follows.0"]
    assert [p.reason for p in renamed.value.problems] == [p.reason for p in plain.value.problems]


async def test_each_task_in_one_call(store: Store, settings: Settings) -> None:
    cases = load_case_files(sample_case_files())
    tried = await tasks.import_cases(store, cases, by=BY, dry_run=True)
    assert (await tasks.import_cases(store, cases, by=BY)).cases_created == tried.cases_created
    assert PASTOR_SLUG in tried.cases_created
    lists = load_list_files([ROOT / "subscribers"])
    assert [
        c.created for c in await tasks.apply_lists(store, settings, lists, by=BY, dry_run=True)
    ] == [True]
    assert await tasks.mailing_lists(store, by=BY) == []
    await tasks.apply_lists(store, settings, lists, by=BY)
    assert [m["slug"] for m in await tasks.mailing_lists(store, by=BY)] == [CHAIN]

    entry = tasks.check_subscriber(
        tasks.SubscriberForm(
            "Anna@Example.org", follows=[tasks.FollowEntry(f"case={PASTOR}")], mailing_list=CHAIN
        ),
        where="test",
    )
    added = await tasks.add_subscriber(store, settings, entry, by=BY, consent=Consent.API)
    assert (added.email, added.created, added.status_kept) == ("anna@example.org", True, False)
    assert added.row["lists"] == CHAIN
    again = await tasks.add_subscriber(store, settings, entry, by=BY, consent=Consent.API)
    assert (again.created, again.row["follows"]) == (False, added.row["follows"])
    assert "anna@example.org" in {
        m["email"] for m in (await tasks.show_list(store, CHAIN, by=BY))["members"]
    }
    nowhere = tasks.check_subscriber(
        tasks.SubscriberForm("b@example.org", mailing_list="no-such-list"), where="test"
    )
    with pytest.raises(NotFoundError, match="no list 'no-such-list'"):
        await tasks.add_subscriber(store, settings, nowhere, by=BY, consent=Consent.API)

    news = await tasks.add_update(
        store, PASTOR, by=BY, day=date(2026, 3, 1), title="Apeal heard", source="Forum 18"
    )
    assert (news.created, news.case) == (True, PASTOR_SLUG)
    assert not (
        await tasks.add_update(store, PASTOR, by=BY, day=news.day, title=news.title)
    ).created
    corrected = await tasks.correct_update(
        store, news.id, by=BY, where="test", title="Appeal heard"
    )
    assert (corrected.changed, corrected.update["title"]) == (["title"], "Appeal heard")
    withdrawn = await tasks.withdraw_update(store, news.id, by=BY)
    assert not withdrawn.already
    assert withdrawn.update["withdrawn_at"] is not None
    assert (await tasks.withdraw_update(store, news.id, by=BY)).already
    with pytest.raises(ConflictError, match="was withdrawn"):
        await tasks.correct_update(store, news.id, by=BY, where="test", title="Too late")
    with pytest.raises(NotFoundError, match="no update 999999"):
        await tasks.withdraw_update(store, 999_999, by=BY)
