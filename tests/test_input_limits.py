"""One limit and one rule per field, the same in case files, list files, the CLI and the API:
over-long texts, line breaks in one-line fields, control characters (a NUL) and links that are
not absolute http(s) URLs valid under RFC 3986 are refused with the place named, on both
databases, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from notifier.config import Settings
from notifier.service import Pipeline
from tests.helpers import AUTH, PASTOR, Cli

#: One case whose every update has a problem; the 2.2 MB body is what once got through.
BAD_CASE = """\
slug: anna-example
name: Anna Example
country: KZ
status: detained
sources:
  - {{name: Example, url: "https://example.org/<script>"}}
updates:
  - date: 2024-03-01
    title: "Detained\\r\\nBcc: everyone@example.org"
    body: ok
  - date: 2024-03-02
    title: Moved
    body: {huge}
  - date: 2024-03-03
    title: Visited
    source: {{name: "News\\0Agency"}}
"""


def sqlite_cli(tmp_path: Path) -> Cli:
    """For input refused before any store is opened: one database is enough."""
    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    )
    return Cli(settings, tmp_path)


def test_a_case_file_over_the_limits_names_every_place_and_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "cases.yaml").write_text(BAD_CASE.format(huge="x" * 2_200_000))
    result = cli("cases", "import", "cases.yaml", "--sample")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1:] == [
        "  cases.yaml:6 [sources.0.url]: has '<' at character 21, which a link may not hold: "
        "write it as %3C",
        "  cases.yaml:9 [updates.0.title]: must be one line: a line break at character 9",
        "  cases.yaml:13 [updates.1.body]: 2,200,000 characters; at most 10,000",
        "  cases.yaml:16 [updates.2.source.name]: has a control character, NUL (U+0000), "
        "at character 5",
    ]
    assert json.loads(cli.ok("cases", "list", "--json").stdout) == []


def test_yaml_a_parser_refuses_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "nul.yaml").write_text("slug: anna\nname: An\x00na\n")
    (tmp_path / "quote.yaml").write_text("slug: anna\nname: 'Anna\ncountry: KZ\nstatus: detained\n")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "chain.yaml").write_text("name: Chain\nfollows: [KZ]\n\ndescription: a\x07b\n")
    cli = sqlite_cli(tmp_path)
    result = cli("cases", "import", "nul.yaml", "quote.yaml")
    assert result.exit_code == 1
    assert (
        "nul.yaml:2: a control character, NUL (U+0000), at column 9: a YAML file may hold no "
        "control characters but tabs and line breaks"
    ) in result.stderr
    assert (
        "quote.yaml:2: the quote opened on line 2 is never closed: it swallowed the rest of "
        "the file"
    ) in result.stderr
    result = cli("lists", "apply", "lists")
    assert result.exit_code == 1
    assert "lists/chain.yaml:4: a control character, U+0007, at column 15" in result.stderr
    assert not (tmp_path / "n.db").exists()


def test_a_list_file_over_the_limits_names_the_lines(cli: Cli, tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "chain.yaml").write_text(
        "name: Chain\n"
        "follows: [KZ]\n"
        f"description: {'d' * 2001}\n"
        "members:\n"
        '  - {email: anna@example.org, name: "Anna\\nBcc: x@example.org"}\n'
        f"  - {{email: ben@example.org, name: {'b' * 201}}}\n"
        '  - {email: chen@example.org, locale: "de\\0"}\n'
    )
    result = cli("lists", "apply", "lists")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1:] == [
        "  lists/chain.yaml:3 [description]: 2,001 characters; at most 2,000",
        "  lists/chain.yaml:5 [members.0.name]: must be one line: a line break at character 5",
        "  lists/chain.yaml:6 [members.1.name]: 201 characters; at most 200",
        "  lists/chain.yaml:7 [members.2.locale]: has a control character, NUL (U+0000), "
        "at character 3",
    ]
    assert json.loads(cli.ok("lists", "list", "--json").stdout) == []


def updates_of(cli: Cli) -> list[dict[str, Any]]:
    case: dict[str, Any] = json.loads(cli.ok("cases", "show", PASTOR, "--json").stdout)
    return list(case["updates"])


def test_updates_add_and_edit_refuse_what_a_case_file_refuses(cli: Cli, tmp_path: Path) -> None:
    cli.ok("cases", "import", "--sample")
    before = updates_of(cli)
    add = ("updates", "add", PASTOR, "--source", "Forum 18")
    (tmp_path / "body.txt").write_text("First line.\n\nThe NUL \x00 here.\n")
    (tmp_path / "long.txt").write_text("y" * 10_001)

    result = cli(*add, "--title", "Line\nbreak", "--url", "https://example.org/<b>x</b>")
    assert result.exit_code == 1
    assert "updates add [title]: must be one line: a line break at character 5" in result.stderr
    assert (
        "updates add [url]: has '<' at character 21, which a link may not hold: write it as %3C"
    ) in result.stderr
    result = cli(*add, "--title", "Fine", "--body-file", "body.txt")
    assert result.exit_code == 1
    assert (
        "body.txt [--body-file]: has a control character, NUL (U+0000), at line 3, column 9"
    ) in result.stderr
    result = cli(*add, "--title", "Fine", "--body-file", "-", input="a\x00b")
    assert "stdin [--body-file]: has a control character, NUL (U+0000), at character 2" in (
        result.stderr
    )
    result = cli(*add, "--title", "Fine", "--body-file", "long.txt")
    assert "long.txt [--body-file]: 10,001 characters; at most 10,000" in result.stderr
    result = cli(*add, "--title", "Fine", "--url", "https://user:secret@example.org/")
    assert "[url]: must not hold a user name or password" in result.stderr
    assert updates_of(cli) == before

    # A link as a browser shows it is stored as the URI it stands for.
    cli.ok(*add, "--title", "Fine", "--url", "https://Bücher.example/Казахстан?q=ä")
    [added] = [u for u in updates_of(cli) if u["title"] == "Fine"]
    assert added["source"]["url"] == (
        "https://xn--bcher-kva.example/%D0%9A%D0%B0%D0%B7%D0%B0%D1%85%D1%81%D1%82%D0%B0%D0%BD?q=%C3%A4"
    )
    edited = cli("updates", "edit", "1", "--title", "Tab\there", "--source", "A\x1bB")
    assert edited.exit_code == 1
    assert "updates edit [title]: has a control character, tab (U+0009), at character 4" in (
        edited.stderr
    )
    assert "updates edit [source]: has a control character, ESC (U+001B), at character 2" in (
        edited.stderr
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Detained\r\nBcc: everyone@example.org"),
        ("title", "Nul\x00here"),
        ("body", "x" * 10_001),
        ("source", "Forum\n18"),
        ("url", "https://example.org/<script>"),
        ("url", "https://example.org/a b"),
        ("url", "javascript:alert(1)"),
    ],
)
async def test_the_api_refuses_what_the_cli_refuses(
    api: tuple[Pipeline, httpx.AsyncClient], field: str, value: str
) -> None:
    _, client = api
    update = {"title": "Appeal heard", "date": "2024-05-01"} | {field: value}
    posted = await client.post(f"/api/cases/{PASTOR}/updates", json=update, headers=AUTH)
    assert posted.status_code == 422
    assert field in json.dumps(posted.json())
    good = await client.post(
        f"/api/cases/{PASTOR}/updates", json={"title": "Appeal heard"}, headers=AUTH
    )
    assert good.status_code == 201
    edited = await client.patch(
        f"/api/updates/{good.json()['id']}", json={field: value}, headers=AUTH
    )
    assert edited.status_code == 422
    case = (await client.get(f"/api/cases/{PASTOR}", headers=AUTH)).json()
    assert [u["title"] for u in case["updates"]].count("Appeal heard") == 1
