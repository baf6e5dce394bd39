"""Subscriber CSV files as spreadsheets meet them: formulas go out as text and come back as they
were, a file the csv module cannot read is named by file and line, every cell keeps the
limits and rules of its field, and the export carries list memberships and the consent
record, all of which import back into another store as the same subscribers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from notifier.config import Settings
from notifier.service import Pipeline
from notifier.store.models import Subscriber
from tests.helpers import CHAIN, EXAMPLE_LISTS, Cli, form
from tests.smtp_server import SmtpServer

FORMULA = '=HYPERLINK("http://evil.example/","Click for your prize")'


def exported_rows(cli: Cli, *args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(cli.ok("subscribers", "export", *args).stdout)))


def other_store(tmp_path: Path) -> Cli:
    settings = Settings(
        data_dir=tmp_path / "other", database_url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    )
    return Cli(settings, tmp_path)


def export_and_import_back(cli: Cli, tmp_path: Path) -> None:
    cli.ok("subscribers", "add", "anna@example.org", "--name=-Anna", "--list", CHAIN)
    cli.ok("subscribers", "add", "sam@example.org", "--name", "'Sam")
    cli.ok("subscribers", "add", "home@example.org", "--name", "@home")
    cli.ok("subscribers", "add", "plus@example.org", "--name", "'=already quoted")
    cli.ok("subscribers", "add", "group@example.org", "--telegram-chat-id", "-1001234567890")
    original = cli.ok("subscribers", "list", "--json").stdout

    cli.ok("subscribers", "export", "--out", "people.csv")
    rows = {
        r["email"]: r for r in csv.DictReader(io.StringIO((tmp_path / "people.csv").read_text()))
    }
    # What a spreadsheet sees: text, never a formula to run; a plain name untouched.
    assert rows["mallory@example.org"]["name"] == "'" + FORMULA
    assert rows["anna@example.org"]["name"] == "'-Anna"
    assert rows["home@example.org"]["name"] == "'@home"
    assert rows["sam@example.org"]["name"] == "'Sam"
    assert rows["plus@example.org"]["name"] == "''=already quoted"
    # A negative number is no formula: a group's chat id stays a number.
    assert rows["group@example.org"]["telegram_chat_id"] == "-1001234567890"
    assert all(not cell.startswith(tuple("=+-@\t\r")) for r in rows.values() for cell in r.values()
               if not re.fullmatch(r"-\d+", cell))  # fmt: skip
    # The consent record: how and when each one said yes; and the lists they are on.
    mallory = rows["mallory@example.org"]
    assert (mallory["consent"], mallory["lists"]) == ("signup", "")
    assert datetime.fromisoformat(mallory["confirmed_at"]).tzinfo is not None
    assert (rows["anna@example.org"]["consent"], rows["anna@example.org"]["lists"]) == (
        "cli",
        CHAIN,
    )
    assert rows["maria.schmidt@example.org"]["consent"] == "list_file"

    # Into the same store: nothing to do. Into another: the same subscribers, the record too.
    assert (
        "0 created, 0 updated, 10 unchanged" in cli.ok("subscribers", "import", "people.csv").stdout
    )
    other = other_store(tmp_path)
    other.ok("init", "--no-config-file")
    other.ok("lists", "apply", str(EXAMPLE_LISTS))  # the lists the file names
    assert (
        "6 created, 4 updated, 0 unchanged"
        in other.ok("subscribers", "import", "people.csv").stdout
    )
    assert other.ok("subscribers", "list", "--json").stdout == original


async def test_a_formula_from_the_sign_up_form_reaches_the_spreadsheet_as_text(
    site: tuple[Pipeline, httpx.AsyncClient],
    smtp_server: SmtpServer,
    settings: Settings,
    tmp_path: Path,
) -> None:
    p, client = site
    sent = await client.post(
        "/subscribe",
        data={"csrf": await form(client), "email": "mallory@example.org", "name": FORMULA,
              "follow": "kazakhstan", "cadence": "weekly"},
    )  # fmt: skip
    assert sent.status_code == 200
    assert (await p.deliverer.drain()).sent == 1
    [confirmation] = smtp_server.received
    text = confirmation.message.get_body(("plain",))
    assert text is not None
    link = re.search(r"http\S+/confirm/\S+", text.get_content())
    assert link is not None
    assert (await client.post(link.group(0))).status_code == 200

    # The administrator's side, at the terminal (the CLI runs its own event loop).
    await asyncio.to_thread(export_and_import_back, Cli(settings, tmp_path), tmp_path)
    async with p.store.read() as session:
        found = await session.scalar(select(Subscriber).where(Subscriber.email.like("mallory%")))
    assert found is not None
    assert (found.name, found.consent) == (FORMULA, "signup")


def test_a_file_the_csv_module_cannot_read_is_named_by_file_and_line(
    cli: Cli, tmp_path: Path
) -> None:
    big = "x" * 200_000
    files = {
        "big.csv": f'email,name\nanna@example.org,Anna\nben@example.org,"{big}"\nc@example.org,C\n',
        "quote.csv": 'email,name\nanna@example.org,Anna\nben@example.org,"Ben\nc@example.org,C\n',
        "big-quote.csv": f'email,name\nanna@example.org,"Anna\n{big}\n',
        "last.csv": 'email,name\r\nanna@example.org,Anna\r\nben@example.org,"Ben',
        "header.csv": 'email,"name\nanna@example.org,Anna\n',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8", newline="")
    expected = {
        "big.csv": "big.csv:3: a cell longer than 131,072 characters, more than any column may "
        "hold",
        "quote.csv": "quote.csv:3: the quote opened on line 3 is never closed: it swallowed "
        "the rest of the file",
        "big-quote.csv": "big-quote.csv:2: the quote opened on line 2 is never closed",
        "last.csv": "last.csv:3: the quote opened on line 3 is never closed",
        "header.csv": "header.csv:1: the quote opened on line 1 is never closed",
    }
    for name, problem in expected.items():
        result = cli("subscribers", "import", name)
        assert result.exit_code == 1, name
        assert problem in result.stderr, result.stderr
    assert json.loads(cli.ok("subscribers", "list", "--json").stdout) == []


def test_every_cell_keeps_the_rules_of_its_field(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(
        "email,name,locale,telegram_chat_id,lists\n"
        "anna@example.org,An\x00na,en,,\n"
        'ben@example.org,"Ben\nBcc: everyone@example.org",en,,\n'
        f"chen@example.org,{'c' * 201},en,,\n"
        "dan@example.org,Dan,de\x00,,\n"
        "eve@example.org,Eve,en,99999999999999999999,\n"
        "fay@example.org,Fay,en,,no-such-list\n"
        "good@example.org,Good,en,-1001234567890,\n",
        encoding="utf-8",
    )
    result = cli("subscribers", "import", "people.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1:] == [
        "  people.csv:2 [name]: has a control character, NUL (U+0000), at character 3",
        "  people.csv:3 [name]: must be one line: a line break at character 4",
        "  people.csv:5 [name]: 201 characters; at most 200",
        "  people.csv:6 [locale]: has a control character, NUL (U+0000), at character 3",
        "  people.csv:7 [telegram_chat_id]: 99999999999999999999 is not a Telegram chat id "
        "(too large)",
        "  people.csv:8 [lists]: no list 'no-such-list' (lists: none yet)",
    ]
    assert json.loads(cli.ok("subscribers", "list", "--json").stdout) == []
    out = cli("subscribers", "import", "people.csv", "--skip-invalid").stdout
    assert "1 created, 0 updated, 0 unchanged, 6 problem(s) skipped" in out
    [good] = json.loads(cli.ok("subscribers", "list", "--json").stdout)
    assert (good["email"], good["telegram_chat_id"]) == ("good@example.org", "-1001234567890")

    refused = cli("subscribers", "add", "x@example.org", "--name", "A\tB", "--locale", "x" * 21)
    assert refused.exit_code == 1
    assert "subscribers add [--name]: has a control character, tab (U+0009), at character 2" in (
        refused.stderr
    )
    assert "subscribers add [--locale]: 21 characters; at most 20" in refused.stderr


def test_lists_and_consent_columns_are_read_back(cli: Cli, tmp_path: Path) -> None:
    cli.ok("lists", "apply", str(EXAMPLE_LISTS))
    cli.ok("subscribers", "add", "left@example.org", "--list", CHAIN)
    (tmp_path / "people.csv").write_text(
        "email,lists,consent,confirmed_at\n"
        f"anna@example.org,{CHAIN},signup,2025-03-01T08:30:00+00:00\n"
        "left@example.org,,,\n"
        "maria.schmidt@example.org,,,\n",
        encoding="utf-8",
    )
    out = cli.ok("subscribers", "import", "people.csv").stdout
    assert "1 created, 2 updated, 0 unchanged" in out
    rows = {r["email"]: r for r in exported_rows(cli)}
    anna = rows["anna@example.org"]
    assert (anna["lists"], anna["consent"], anna["confirmed_at"]) == (
        CHAIN,
        "signup",
        "2025-03-01T08:30:00+00:00",
    )
    # An empty cell in a lists column: on no list (as an empty follows cell follows nothing).
    assert rows["left@example.org"]["lists"] == ""
    assert rows["maria.schmidt@example.org"]["lists"] == ""
    # No record in the file: the one the store has stays.
    assert (rows["left@example.org"]["consent"], rows["maria.schmidt@example.org"]["consent"]) == (
        "cli",
        "list_file",
    )

    # Mailchimp's export says when each person confirmed; that is their record here too.
    (tmp_path / "mailchimp.csv").write_text(
        "Email Address,First Name,Last Name,CONFIRM_TIME\n"
        "new@example.org,New,Reader,2019-03-12 15:40:32\n",
        encoding="utf-8",
    )
    cli.ok("subscribers", "import", "mailchimp.csv")
    new = {r["email"]: r for r in exported_rows(cli)}["new@example.org"]
    assert (new["name"], new["consent"]) == ("New Reader", "import")
    assert datetime.fromisoformat(new["confirmed_at"]) == datetime(
        2019, 3, 12, 15, 40, 32, tzinfo=UTC
    )
