"""What the administrator reads at the terminal: every table column has a name, cells are shown
as typed, withdrawn updates are marked, a dry run says what it would do, and an option's help
says what the option does."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import CHAIN, ROOT, Cli


def headers(output: str) -> list[str]:
    """The column names of the first Rich table in `output`."""
    header = next(line for line in output.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in header.strip("┃").split("┃")]


def row_of(output: str, text: str) -> list[str]:
    line = next(line for line in output.splitlines() if text in line)
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_case_tables_name_every_column_and_mark_withdrawn_updates(cli: Cli) -> None:
    cli.ok("cases", "import", "--sample")
    listed = cli.ok("cases", "list").stdout
    assert headers(listed) == [
        "slug", "name", "country", "status", "updates", "latest", "published",
    ]  # fmt: skip
    assert row_of(listed, "makhset-djabbarbergenov")[-1] == "yes"

    shown = json.loads(cli.ok("cases", "show", "kashkumbaev", "--json").stdout)
    released = next(u for u in shown["updates"] if u["key"] == "2014-02-27-released")
    cli.ok("updates", "withdraw", str(released["id"]))
    page = cli.ok("cases", "show", "kashkumbaev").stdout
    assert headers(page) == ["id", "date", "title", "source", "note"]
    row = row_of(page, "Released from prison")
    assert row[-1].startswith("withdrawn 20"), row
    assert row_of(page, "Two charges dropped")[-1] == ""
    again = json.loads(cli.ok("cases", "show", "kashkumbaev", "--json").stdout)
    marked = next(u for u in again["updates"] if u["key"] == "2014-02-27-released")
    assert marked["withdrawn_at"] is not None


def test_table_cells_are_shown_as_typed(cli: Cli, tmp_path: Path) -> None:
    case_file = tmp_path / "withheld.yaml"
    case_file.write_text(
        "slug: withheld\nname: Pastor [name withheld]\ncountry: KZ\nstatus: detained\n",
        encoding="utf-8",
    )
    cli.ok("cases", "import", str(case_file))
    assert "Pastor [name withheld]" in cli.ok("cases", "list").stdout


def test_a_digest_dry_run_says_what_would_be_queued_and_queues_nothing(cli: Cli) -> None:
    cli.ok("cases", "import", "--sample")
    cli.ok("lists", "apply", str(ROOT / "subscribers"))
    cli.ok(
        "updates", "add", "Kashkumbaev", "--title", "Appeal court upholds sentence",
        "--source", "Forum 18",
    )  # fmt: skip
    cli.ok("run", "--once", "--quiet")
    dry = cli.ok("digest", "send", "--list", CHAIN, "--dry-run").stdout
    assert f"(dry run) {CHAIN}: would queue 4 message(s); nothing was queued or sent" in dry
    keys = [m["key"] for m in json.loads(cli.ok("outbox", "list", "--json").stdout)]
    assert not [k for k in keys if k.startswith("digest:")]
    assert f"{CHAIN}: 4 message(s) queued" in cli.ok("digest", "send", "--list", CHAIN).stdout


def test_subscribers_add_list_says_what_it_does_and_does_it(cli: Cli) -> None:
    help_text = " ".join(cli.ok("subscribers", "add", "--help").stdout.split())
    assert "Also make them a member of this mailing list (slug)" in help_text
    cli.ok("cases", "import", "--sample")
    cli.ok("lists", "apply", str(ROOT / "subscribers"))
    cli.ok("subscribers", "add", "new@example.org", "--list", CHAIN)
    members = json.loads(cli.ok("lists", "show", CHAIN, "--json").stdout)["members"]
    assert "new@example.org" in [m["email"] for m in members]


def test_outbox_list_refuses_a_limit_out_of_range_by_name(cli: Cli) -> None:
    for wrong, said in (("0", "greater than or equal to 1"), ("1" + "0" * 20, "less than")):
        refused = cli("outbox", "list", "--limit", wrong)
        assert refused.exit_code == 2
        assert "--limit" in refused.stderr
        assert said in refused.stderr
    assert cli("outbox", "list", "--limit", "1000").exit_code == 0
