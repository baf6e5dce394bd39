"""Subscribers: add and follow, CSV import (ours, Excel, Mailchimp, Listmonk), every bad row
reported and nothing half-written, never resubscribing anyone, export that imports back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from notifier.config import Settings
from notifier.errors import InputError
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.ingest.subscriber_csv import parse_subscriber_csv
from notifier.store.cases import import_cases
from notifier.store.engine import Store
from notifier.store.models import Subscriber, Subscription
from notifier.store.subscribers import get_subscriber, import_subscribers
from tests.helpers import CHAIN, EXAMPLE_LISTS, PASTOR, Cli

GOOD_CSV = """\
email,name,countries,cases,cadence,time_zone,locale
anna@example.org,Anna Petrova,kazakhstan,,weekly,Europe/Berlin,de
ben@example.org,Ben Okafor,,Kashkumbaev,,,
Chen@Example.org,Chen Wei,KZ UZ,,daily,Asia/Almaty,zh
"""

# Every kind of bad row; the good ones (lines 2 and 10) must not be written either.
BAD_CSV = """\
email,name,countries,cases,time_zone,status,digest_schedule,paused_until
good1@example.org,Good One,KZ,,,,,
not-an-email,Bad Email,,,,,,
c@example.org,Atlantis Fan,Atlantis,,,,,
d@example.org,No Case,,nobody-at-all,,,,
e@example.org,Too Few
good1@example.org,Twice,,,,,,
f@example.org,Mars,,,Mars/Olympus,,,
g@example.org,Weird,,,,sleeping,,
h@example.org,Moonday,,,,,moonday 7:00,
i@example.org,Someday,,,,,,next week
good2@example.org,Good Two,,,Asia/Almaty,,sun 20:30,2099-01-01
"""

BAD_ROWS = [
    "people.csv:3 [email]: invalid email 'not-an-email'",
    "people.csv:4 [countries]: unknown country 'Atlantis'",
    "people.csv:5 [cases]: no case 'nobody-at-all'",
    "people.csv:6 [row]: has 2 columns, the header has 8",
    "people.csv:7 [email]: good1@example.org already appears at people.csv:2",
    "people.csv:8 [time_zone]: unknown time zone 'Mars/Olympus'",
    "people.csv:9 [status]: unknown status 'sleeping'",
    "people.csv:10 [digest_schedule]: schedule 'moonday 7:00': unknown day 'moo' (mon … sun)",
    "people.csv:11 [paused_until]: 'next week' is not a date and time (ISO 8601",
]


def listed(cli: Cli) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(cli.ok("subscribers", "list", "--json").stdout)
    return rows


def emails(cli: Cli) -> list[str]:
    return [row["email"] for row in listed(cli)]


def shown(cli: Cli, who: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli.ok("subscribers", "show", who, "--json").stdout)
    return data


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name  # the CLI runs in tmp_path; a short name keeps messages on one line


def test_add_follows_a_country_then_a_case_and_keeps_both(cli: Cli) -> None:
    cli.ok("cases", "import", "--sample")
    out = cli.ok(
        "subscribers",
        "add",
        "Anna@Example.org",
        "--name",
        "Anna",
        "--follow-country",
        "kazakhstan",
        "--cadence",
        "weekly",
    ).stdout
    assert "added anna@example.org; follows: country=KZ:weekly:email" in out

    out = cli.ok("subscribers", "add", "anna@example.org", "--follow-case", "Kashkumbaev").stdout
    assert (
        f"updated anna@example.org; follows: case={PASTOR}:instant:email country=KZ:weekly:email"
        in out
    )
    # The same follow again with another cadence changes that follow, and only it.
    out = cli.ok(
        "subscribers", "add", "anna@example.org", "--follow-country", "KZ", "--cadence", "daily"
    ).stdout
    assert f"follows: case={PASTOR}:instant:email country=KZ:daily:email" in out

    anna = shown(cli, "anna@example.org")
    # Added by an administrator at the terminal: the consent record says so, and when.
    assert anna.pop("consent") == "cli"
    assert datetime.fromisoformat(anna.pop("confirmed_at")).tzinfo is not None
    assert anna == {
        "email": "anna@example.org",
        "name": "Anna",  # not given again, so kept
        "status": "active",
        "locale": "en",
        "time_zone": "UTC",
        "digest_schedule": "mon 07:00",
        "telegram_chat_id": "",
        "follows": [f"case={PASTOR}:instant:email", "country=KZ:daily:email"],
        "lists": [],
        "paused_until": None,
    }


def test_add_rejects_a_bad_email_country_case_or_option_naming_each(cli: Cli) -> None:
    result = cli("subscribers", "add", "not-an-email", "--follow-country", "KZ")
    assert result.exit_code == 1
    assert "subscribers add [EMAIL]: invalid email 'not-an-email'" in result.stderr

    result = cli("subscribers", "add", "b@example.org", "--follow-country", "Kazakstan")
    assert result.exit_code == 1
    assert (
        "subscribers add [--follow-country]: unknown country 'Kazakstan'; did you mean Kazakhstan"
        in result.stderr
    )

    # Found only in the store: b@example.org must not be left half-added.
    result = cli("subscribers", "add", "b@example.org", "--follow-case", "Nobody Atall")
    assert result.exit_code == 1
    assert "subscribers add [--follow-case]: no case 'Nobody Atall'" in result.stderr

    # Several problems at once: every one is named, not just the first.
    result = cli(
        "subscribers",
        "add",
        "bad@",
        "--time-zone",
        "Mars/Olympus",
        "--cadence",
        "hourly",
        "--follow-country",
        "Atlantis",
    )
    assert result.exit_code == 1
    assert "4 problems found" in result.stderr
    for part in [
        "[EMAIL]: invalid email 'bad@'",
        "[--time-zone]: unknown time zone 'Mars/Olympus'",
        "[--cadence]: unknown cadence 'hourly'",
        "[--follow-country]: unknown country 'Atlantis'",
    ]:
        assert part in result.stderr
    assert emails(cli) == []


def test_import_is_idempotent_updates_without_duplicating_and_dry_run_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("cases", "import", "--sample")
    people = write(tmp_path, "people.csv", GOOD_CSV)
    out = cli.ok("subscribers", "import", people, "--dry-run").stdout
    assert "(dry run) 3 created, 0 updated, 0 unchanged" in out
    assert emails(cli) == []

    assert "3 created, 0 updated, 0 unchanged" in cli.ok("subscribers", "import", people).stdout
    first = listed(cli)
    assert [r["email"] for r in first] == [
        "anna@example.org",
        "ben@example.org",
        "chen@example.org",
    ]
    anna, ben, chen = first
    assert anna == {
        "email": "anna@example.org",
        "name": "Anna Petrova",
        "status": "active",
        "paused_until": "",
        "locale": "de",
        "time_zone": "Europe/Berlin",
        "digest_schedule": "mon 07:00",
        "telegram_chat_id": "",
        "follows": "country=KZ:weekly:email",
        "lists": "",
        "consent": "import",
        "confirmed_at": anna["confirmed_at"],
    }
    assert datetime.fromisoformat(anna["confirmed_at"]).tzinfo is not None
    assert ben["follows"] == f"case={PASTOR}:instant:email"
    assert (ben["locale"], ben["time_zone"]) == ("en", "UTC")  # the settings' defaults
    assert chen["follows"] == "country=KZ:daily:email country=UZ:daily:email"

    assert "0 created, 0 updated, 3 unchanged" in cli.ok("subscribers", "import", people).stdout

    write(tmp_path, "people.csv", GOOD_CSV.replace("Ben Okafor", "Benjamin Okafor"))
    out = cli.ok("subscribers", "import", people, "--dry-run").stdout
    assert "(dry run) 0 created, 1 updated, 2 unchanged" in out
    assert "0 created, 1 updated, 2 unchanged" in cli.ok("subscribers", "import", people).stdout
    assert listed(cli) == [anna, ben | {"name": "Benjamin Okafor"}, chen]


def test_a_bad_file_names_every_bad_row_and_writes_nothing_unless_told_to_skip(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("cases", "import", "--sample")
    people = write(tmp_path, "people.csv", BAD_CSV)
    result = cli("subscribers", "import", people)
    assert result.exit_code == 1
    assert f"{len(BAD_ROWS)} problems found" in result.stderr
    for row in BAD_ROWS:
        assert row in result.stderr
    assert "people.csv:12" not in result.stderr
    assert emails(cli) == []  # not even the good rows

    # A long (absolute) path: each skipped row still on one line of its own, for grep.
    result = cli("subscribers", "import", str(tmp_path / people), "--skip-invalid")
    assert result.exit_code == 2, result.stderr
    assert "2 created, 0 updated, 0 unchanged, 9 problem(s) skipped" in result.stdout
    lines = result.stdout.splitlines()
    for row in BAD_ROWS:
        where = row.split(": ")[0]  # 'people.csv:3 [email]'
        assert any(line.startswith(f"  {tmp_path}/{where}: ") for line in lines), row
    assert (
        f"  {tmp_path}/people.csv:8 [time_zone]: unknown time zone 'Mars/Olympus' "
        "(use an IANA name such as Asia/Almaty)"
    ) in lines
    good1, good2 = listed(cli)
    assert (good1["email"], good2["email"]) == ("good1@example.org", "good2@example.org")
    assert good1["name"] == "Good One"  # the first of its two rows; the second was the bad one
    assert good1["follows"] == "country=KZ:instant:email"


def test_excel_mailchimp_and_listmonk_files_and_names_in_any_script(
    cli: Cli, tmp_path: Path
) -> None:
    # Excel: UTF-8 with a BOM, semicolons, CRLF, header in any case.
    excel = (
        "Email;Name;Countries;Time zone\r\n"
        "bakhytzhan@example.org;Бахытжан Кашкумбаев;KZ;Asia/Almaty\r\n"
        "wei@example.org;中文 名字;UZ;\r\n"
        '"doe@example.org";"Doe; Jane ""JD""";;\r\n'
    )
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + excel.encode("utf-8"))
    out = cli.ok("subscribers", "import", "excel.csv").stdout
    assert "3 created" in out
    assert "note:" not in out  # every column was understood, the BOM included

    mailchimp = write(
        tmp_path,
        "mailchimp.csv",
        "Email Address,First Name,Last Name,MEMBER_RATING\n"
        "maria@example.org,Maria,Schmidt,2\n"
        "solo@example.org,Solo,,5\n",
    )
    out = cli.ok("subscribers", "import", mailchimp).stdout
    assert "note: ignored columns: MEMBER_RATING" in out
    assert "2 created" in out

    listmonk = write(
        tmp_path,
        "listmonk.csv",
        "email,name,attributes,status\n"
        'lena@example.org,Lena,"{""city"": ""Almaty"", ""n"": 1}",enabled\n'
        "blocked@example.org,Blocked,{},blocklisted\n",
    )
    out = cli.ok("subscribers", "import", listmonk).stdout
    assert "note: ignored columns: attributes" in out

    rows = {r["email"]: r for r in listed(cli)}
    assert len(rows) == 7
    assert rows["bakhytzhan@example.org"]["name"] == "Бахытжан Кашкумбаев"
    assert rows["bakhytzhan@example.org"]["time_zone"] == "Asia/Almaty"
    assert rows["bakhytzhan@example.org"]["follows"] == "country=KZ:instant:email"
    assert rows["wei@example.org"]["name"] == "中文 名字"
    assert rows["doe@example.org"]["name"] == 'Doe; Jane "JD"'
    assert rows["maria@example.org"]["name"] == "Maria Schmidt"
    assert rows["solo@example.org"]["name"] == "Solo"
    assert rows["lena@example.org"]["status"] == "active"
    assert rows["blocked@example.org"]["status"] == "unsubscribed"


def test_an_import_never_resubscribes_anyone(cli: Cli, tmp_path: Path) -> None:
    cli.ok("subscribers", "add", "gone@example.org", "--name", "Gone", "--follow-country", "KZ")
    assert (
        "gone@example.org unsubscribed"
        in cli.ok("subscribers", "remove", "gone@example.org").stdout
    )
    people = write(
        tmp_path, "people.csv", "email,name,status\ngone@example.org,Gone Again,active\n"
    )
    out = cli.ok("subscribers", "import", people).stdout
    assert (
        "note: gone@example.org stays unsubscribed/bounced; an import does not resubscribe anyone"
        in out
    )
    gone = shown(cli, "gone@example.org")
    assert gone["status"] == "unsubscribed"
    assert gone["name"] == "Gone Again"  # other fields are still updated
    assert gone["follows"] == ["country=KZ:instant:email"]  # no follows column: kept

    out = cli.ok("subscribers", "add", "gone@example.org", "--follow-country", "UZ").stdout
    assert "note: gone@example.org is unsubscribed; its status was left as it is" in out


def test_export_imports_back_into_another_store_as_the_same_subscribers(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("cases", "import", "--sample")
    cli.ok(
        "subscribers",
        "add",
        "anna@example.org",
        "--name",
        'O\'Brien, Anna "Annie"',
        "--follow-country",
        "KZ",
        "--follow-case",
        "Kashkumbaev",
        "--cadence",
        "weekly",
        "--locale",
        "de",
        "--time-zone",
        "Europe/Berlin",
        "--digest-schedule",
        "Friday 18:30",
    )
    cli.ok(
        "subscribers",
        "add",
        "tg@example.org",
        "--name",
        "Бахытжан",
        "--follow-all",
        "--cadence",
        "daily",
        "--channel",
        "telegram",
        "--telegram-chat-id",
        "987654321",
    )
    cli.ok("subscribers", "add", "left@example.org", "--name", "中文")
    cli.ok("subscribers", "remove", "left@example.org")
    cli.ok("subscribers", "pause", "tg@example.org", "--days", "30")
    original = cli.ok("subscribers", "list", "--json").stdout

    cli.ok("subscribers", "export", "--out", "people.csv")
    exported = (tmp_path / "people.csv").read_text(encoding="utf-8")
    assert exported.splitlines()[0] == (
        "email,name,status,paused_until,locale,time_zone,digest_schedule,telegram_chat_id,follows,"
        "lists,consent,confirmed_at"
    )
    # When summaries come and a pause under way go along too.
    assert ",Europe/Berlin,fri 18:30," in exported
    paused = next(r for r in json.loads(original) if r["email"] == "tg@example.org")
    assert paused["paused_until"] > "2026"
    assert "Бахытжан" in exported
    assert "中文" in exported
    # Into the same store: nothing to do.
    assert (
        "0 created, 0 updated, 3 unchanged" in cli.ok("subscribers", "import", "people.csv").stdout
    )

    other_settings = Settings(
        data_dir=tmp_path / "other", database_url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    )
    other = Cli(other_settings, tmp_path)
    other.ok("init")
    other.ok("cases", "import", "--sample")  # the case follows need their cases
    assert "3 created" in other.ok("subscribers", "import", "people.csv").stdout
    assert other.ok("subscribers", "list", "--json").stdout == original

    as_json = json.loads(cli.ok("subscribers", "export", "--format", "json").stdout)
    assert as_json == json.loads(original)
    tg = next(r for r in as_json if r["email"] == "tg@example.org")
    assert (tg["telegram_chat_id"], tg["follows"]) == ("987654321", "all:daily:telegram")
    bad = cli("subscribers", "export", "--format", "xml")
    assert bad.exit_code == 1
    assert "[--format]: 'xml': use csv or json" in bad.stderr


def test_remove_unsubscribes_erases_or_leaves_one_list(cli: Cli) -> None:
    cli.ok("lists", "apply", str(EXAMPLE_LISTS))
    cli.ok("subscribers", "add", "a@example.org", "--list", CHAIN, "--follow-country", "KZ")
    cli.ok("subscribers", "add", "b@example.org", "--list", CHAIN)
    cli.ok("subscribers", "add", "c@example.org", "--list", CHAIN)

    assert "a@example.org unsubscribed" in cli.ok("subscribers", "remove", "a@example.org").stdout
    out = cli.ok("subscribers", "remove", "b@example.org", "--erase").stdout
    assert "b@example.org erased" in out
    out = cli.ok("subscribers", "remove", "c@example.org", "--list", CHAIN).stdout
    assert f"c@example.org left {CHAIN}" in out

    rows = {r["email"]: r for r in listed(cli)}
    assert "b@example.org" not in rows
    assert rows["a@example.org"]["status"] == "unsubscribed"
    # Kept with their follows, so no import can bring the address back as new.
    assert rows["a@example.org"]["follows"] == "country=KZ:instant:email"
    c = shown(cli, "c@example.org")
    assert (c["status"], c["lists"]) == ("active", [])
    members = json.loads(cli.ok("lists", "show", CHAIN, "--json").stdout)["members"]
    assert [(m["email"], m["status"]) for m in members] == [
        ("a@example.org", "unsubscribed"),
        ("anna.petrova@example.org", "active"),
        ("david.okafor@example.org", "active"),
        ("maria.schmidt@example.org", "active"),
        ("prayer-team@example.org", "active"),
    ]


def test_import_into_a_list_adds_members_as_imported(cli: Cli, tmp_path: Path) -> None:
    cli.ok("lists", "apply", str(EXAMPLE_LISTS))
    people = write(
        tmp_path,
        "people.csv",
        "email,name\n"
        "new.one@example.org,New One\n"
        "new.two@example.org,New Two\n"
        "david.okafor@example.org,David Okafor\n",
    )
    out = cli.ok("subscribers", "import", people, "--list", CHAIN).stdout
    assert f"2 created, 0 updated, 1 unchanged, 2 added to {CHAIN}" in out
    members = json.loads(cli.ok("lists", "show", CHAIN, "--json").stdout)["members"]
    assert {m["email"]: m["source"] for m in members} == {
        "anna.petrova@example.org": "file",
        "david.okafor@example.org": "file",  # already on the list by its file: unchanged
        "maria.schmidt@example.org": "file",
        "prayer-team@example.org": "file",
        "new.one@example.org": "import",
        "new.two@example.org": "import",
    }
    assert f"0 added to {CHAIN}" in cli.ok("subscribers", "import", people, "--list", CHAIN).stdout
    on_list = json.loads(cli.ok("subscribers", "list", "--list", CHAIN, "--json").stdout)
    assert len(on_list) == 6
    unknown = cli("subscribers", "import", people, "--list", "no-such-list")
    assert unknown.exit_code == 1
    assert f"no list 'no-such-list' (lists: {CHAIN})" in unknown.stderr


def test_a_telegram_chat_id_already_taken_is_a_problem_not_a_crash(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("subscribers", "add", "t1@example.org", "--telegram-chat-id", "123")
    taken = write(
        tmp_path,
        "taken.csv",
        "email,telegram_chat_id\nT1@example.org,123\nt2@example.org,123\nt3@example.org,abc\n",
    )
    result = cli("subscribers", "import", taken)
    assert result.exit_code == 1
    # Its own id, given again, is no conflict; someone else's is, in the file or in the store.
    assert "taken.csv:2" not in result.stderr.replace("appears at taken.csv:2", "")
    assert "taken.csv:3 [telegram_chat_id]: 123 already appears at taken.csv:2" in result.stderr
    assert "taken.csv:3 [telegram_chat_id]: 123 already belongs to t1@example.org" in result.stderr
    assert "taken.csv:4 [telegram_chat_id]: 'abc' is not a Telegram chat id" in result.stderr
    assert emails(cli) == ["t1@example.org"]


def test_a_row_is_named_by_the_line_it_starts_on(tmp_path: Path) -> None:
    text = 'email,countries\n"m@example.org","KZ\nUZ"\n\nbad,\n'
    specs, notes = parse_subscriber_csv(text, "people.csv")
    assert notes == []
    assert [s.where for s in specs] == ["people.csv:2", "people.csv:5"]
    assert [f.value for f in specs[0].follows or []] == ["KZ", "UZ"]
    assert [str(p) for p in specs[1].problems] == [
        "people.csv:5 [email]: invalid email 'bad': An email address must have an @-sign."
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "people.csv: the file is empty; it needs a header row"),
        ("name,city\nAnna,Almaty\n", "people.csv:1 [email]: no email column in the header"),
    ],
)
def test_a_file_without_an_email_column_is_refused(text: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_subscriber_csv(text, "people.csv")
    assert str(caught.value).startswith(problem)


async def test_store_import_reports_every_problem_and_writes_nothing(
    store: Store, settings: Settings
) -> None:
    async with store.transaction() as session:
        await import_cases(session, load_case_files(sample_case_files()))
    specs, _ = parse_subscriber_csv(BAD_CSV, "people.csv")
    with pytest.raises(InputError) as caught:
        async with store.transaction() as session:
            await import_subscribers(session, specs, settings)
    assert [(p.where, p.field) for p in caught.value.problems] == [
        ("people.csv:3", "email"),
        ("people.csv:4", "countries"),
        ("people.csv:5", "cases"),
        ("people.csv:6", "row"),
        ("people.csv:7", "email"),
        ("people.csv:8", "time_zone"),
        ("people.csv:9", "status"),
        ("people.csv:10", "digest_schedule"),
        ("people.csv:11", "paused_until"),
    ]
    async with store.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert await session.scalar(select(func.count()).select_from(Subscription)) == 0

    async with store.transaction() as session:
        report = await import_subscribers(session, specs, settings, skip_invalid=True)
    assert report.created == ["good1@example.org", "good2@example.org"]
    assert len(report.skipped) == 9
    async with store.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Subscriber)) == 2
        assert await session.scalar(select(func.count()).select_from(Subscription)) == 1
        good2 = await get_subscriber(session, "good2@example.org")
        # Sunday at 20:30 in Almaty, and paused until midnight UTC (no offset given).
        assert (good2.digest_day, good2.digest_time, good2.time_zone) == (6, "20:30", "Asia/Almaty")
        assert good2.paused_until == datetime(2099, 1, 1, tzinfo=UTC)


def test_reactivate_undoes_a_bounce_only(cli: Cli, tmp_path: Path) -> None:
    people = write(
        tmp_path, "people.csv", "email,status\nb@example.org,bounced\nu@example.org,active\n"
    )
    cli.ok("subscribers", "import", people)
    cli.ok("subscribers", "remove", "u@example.org")
    assert (
        "b@example.org is active again"
        in cli.ok("subscribers", "reactivate", "b@example.org").stdout
    )
    assert shown(cli, "b@example.org")["status"] == "active"
    refused = cli("subscribers", "reactivate", "u@example.org")
    assert refused.exit_code == 1
    assert (
        "subscribers reactivate [status]: u@example.org is unsubscribed, not bounced; "
        "only a bounced address can be reactivated"
    ) in refused.stderr
    assert shown(cli, "u@example.org")["status"] == "unsubscribed"
    missing = cli("subscribers", "reactivate", "nobody@example.org")
    assert missing.exit_code == 1


def test_an_administrator_pauses_and_resumes_someone(cli: Cli) -> None:
    cli.ok("subscribers", "add", "p@example.org", "--follow-country", "KZ")
    out = cli.ok("subscribers", "pause", "p@example.org", "--days", "30").stdout
    assert "p@example.org paused until " in out
    paused = shown(cli, "p@example.org")["paused_until"]
    assert paused is not None
    assert "paused until" in cli.ok("subscribers", "show", "p@example.org").stdout
    assert cli("subscribers", "pause", "p@example.org", "--days", "0").exit_code == 2
    assert "no longer paused" in cli.ok("subscribers", "resume", "p@example.org").stdout
    assert shown(cli, "p@example.org")["paused_until"] is None
