"""Cases: the sample import, idempotency, lookup by any spelling, updates, bad case files."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from notifier.config import Settings
from notifier.domain import CaseStatus
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.store.cases import find_cases, import_cases
from notifier.store.engine import Store, open_store
from notifier.store.models import Case, Update
from tests.helpers import Cli


async def test_sample_import_is_idempotent_and_keeps_update_ids(store: Store) -> None:
    specs = load_case_files(sample_case_files())
    async with store.transaction() as session:
        first = await import_cases(session, specs)
    assert sorted(first.cases_created) == ["bakhytzhan-kashkumbayev", "makhset-djabbarbergenov"]
    assert first.updates_added == 6
    async with store.transaction() as session:
        ids = dict((await session.execute(select(Update.key, Update.id))).all())
        second = await import_cases(session, specs)
    assert not second.changed
    assert second.updates_unchanged == 6
    async with store.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Update)) == 6
        assert dict((await session.execute(select(Update.key, Update.id))).all()) == ids


async def test_sample_holds_every_dated_update_letter_actions_and_prayers(store: Store) -> None:
    async with store.transaction() as session:
        await import_cases(session, load_case_files(sample_case_files()))
        cases = {c.slug: c for c in await session.scalars(select(Case))}
        dates = {
            slug: sorted(
                str(u.event_date)
                for u in await session.scalars(select(Update).where(Update.case_id == case.id))
            )
            for slug, case in cases.items()
        }
    pastor = cases["bakhytzhan-kashkumbayev"]
    assert dates["bakhytzhan-kashkumbayev"] == [
        "2014-02-01",
        "2014-02-05",
        "2014-02-27",
        "2014-04-13",
    ]
    assert "2012-12-06" in dates["makhset-djabbarbergenov"]
    assert pastor.country == "KZ"
    assert pastor.status is CaseStatus.PROBATION
    assert pastor.letter_address is not None
    assert "SI-12 (ETs 166/1)" in pastor.letter_address
    assert "010000 Astana" in pastor.letter_address
    assert {"Kashkumbaev", "Bakhystzhan"} <= set(pastor.spellings)
    assert {a["kind"] for a in pastor.actions} == {"pray", "write"}
    assert pastor.prayer.startswith("Father in heaven")
    exile = cases["makhset-djabbarbergenov"]
    assert exile.status is CaseStatus.EXILED
    assert any(a["kind"] == "contact" for a in exile.actions)
    assert exile.prayer.startswith("Dear Lord")


async def test_update_ids_only_grow(store: Store) -> None:
    async with store.transaction() as session:
        await import_cases(session, load_case_files(sample_case_files()))
        ids = list(await session.scalars(select(Update.id).order_by(Update.id)))
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_a_person_is_found_by_any_spelling(store: Store) -> None:
    async with store.transaction() as session:
        await import_cases(session, load_case_files(sample_case_files()))
        for text in [
            "Kashkumbaev",
            "kashkumbayev",
            "Bakhystzhan",
            "bakhytzhan-kashkumbayev",
            "Bakhytzhan Kashkumbaev",
        ]:
            assert [c.slug for c in await find_cases(session, text)] == ["bakhytzhan-kashkumbayev"]
        assert [c.slug for c in await find_cases(session, "makset")] == ["makhset-djabbarbergenov"]
        assert await find_cases(session, "nobody") == []


def test_cli_import_list_and_show(cli: Cli) -> None:
    assert "2 cases created; updates: 6 added" in cli.ok("cases", "import", "--sample").stdout
    assert "nothing to change" in cli.ok("cases", "import", "--sample").stdout
    listed = json.loads(cli.ok("cases", "list", "--country", "Kazakhstan", "--json").stdout)
    assert [c["slug"] for c in listed] == ["bakhytzhan-kashkumbayev", "makhset-djabbarbergenov"]
    assert all(c["country"] == "KZ" for c in listed)
    assert json.loads(cli.ok("cases", "list", "--country", "UZ", "--json").stdout) == []
    shown = cli.ok("cases", "show", "Kashkumbaev").stdout
    assert "Alash Tas Zhol street 30/1" in shown
    assert "Father in heaven" in shown
    data = json.loads(cli.ok("cases", "show", "makhset-djabbarbergenov", "--json").stdout)
    assert data["updates"][-1]["date"] == "2012-12-06"


def test_cli_unknown_country_and_case_are_clear_errors(cli: Cli) -> None:
    cli.ok("cases", "import", "--sample")
    result = cli("cases", "list", "--country", "Kazakstan")
    assert result.exit_code == 1
    assert "unknown country 'Kazakstan'; did you mean Kazakhstan" in result.stderr
    result = cli("cases", "show", "Kashkumbayv")
    assert result.exit_code == 1
    assert "no case 'Kashkumbayv'; did you mean bakhytzhan-kashkumbayev?" in result.stderr


def test_cli_updates_add_once(cli: Cli, tmp_path: Path) -> None:
    cli.ok("cases", "import", "--sample")
    body = tmp_path / "body.txt"
    body.write_text("The appeal court kept the suspended sentence.\n\nHe remains on probation.\n")
    args = [
        "updates",
        "add",
        "kashkumbaev",
        "--date",
        "2014-04-20",
        "--title",
        "Appeal rejected",
        "--body-file",
        str(body),
        "--source",
        "Forum 18",
        "--url",
        "https://www.forum18.org/",
    ]
    assert "added update 7 to bakhytzhan-kashkumbayev" in cli.ok(*args).stdout
    assert "already has this update" in cli.ok(*args).stdout
    shown = json.loads(cli.ok("cases", "show", "bakhytzhan-kashkumbayev", "--json").stdout)
    latest = shown["updates"][-1]
    assert (
        latest["body"]
        == "The appeal court kept the suspended sentence.\n\nHe remains on probation."
    )
    assert latest["source"] == {"name": "Forum 18", "url": "https://www.forum18.org/"}
    bad = cli(
        "updates", "add", "kashkumbaev", "--date", "20-04-2014", "--title", "x", "--source", "y"
    )
    assert bad.exit_code == 1
    assert "[--date]: '20-04-2014' is not a date" in bad.stderr


BAD_CASES = """\
slug: Anna Ivanova
name: Anna Ivanova
country: Atlantis
status: jailed
updates:
  - date: 2024-13-01
    title: Arrested
  - date: 2024-01-02
    title: ""
---
slug: ok-case
name: Fine
country: KZ
status: detained
colour: red
"""


async def test_bad_case_file_reports_every_problem_with_line_and_changes_nothing(
    cli: Cli, tmp_path: Path, settings: Settings
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_CASES)
    result = cli("cases", "import", str(bad), "--sample")
    assert result.exit_code == 1
    err = result.stderr
    assert f"{bad}:1 [slug]: use lower-case letters" in err
    assert f"{bad}:3 [country]: unknown country 'Atlantis'" in err
    assert f"{bad}:4 [status]: Input should be" in err
    assert f"{bad}:6 [updates.0.date]" in err
    assert f"{bad}:9 [updates.1.title]" in err
    assert f"{bad}:15 [colour]: Extra inputs are not permitted" in err
    async with open_store(settings) as store, store.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 0


def test_broken_yaml_names_the_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("slug: x\nname: [unclosed\ncountry: KZ\n")
    result = cli("cases", "import", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3: not valid YAML" in result.stderr
