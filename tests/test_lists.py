"""Mailing lists as files: apply, idempotency, members who leave and members who stay, every
problem in a bad file named by file, line and field, nothing written."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notifier.config import Settings
from notifier.domain import Cadence
from notifier.store.engine import open_store
from notifier.store.preferences import leave_list
from notifier.store.signups import confirm_signup, request_signup
from notifier.store.subscribers import get_list, get_subscriber
from tests.helpers import AUTH, CHAIN, EXAMPLE_LISTS, AppClient, Cli, maildir, text_of

FILE_MEMBERS = [
    ("anna.petrova@example.org", "Anna Petrova"),
    ("david.okafor@example.org", "David Okafor"),
    ("maria.schmidt@example.org", "Maria Schmidt"),
    ("prayer-team@example.org", "St Andrew's prayer team"),
]


def show_list(cli: Cli, slug: str = CHAIN) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli.ok("lists", "show", slug, "--json").stdout)
    return data


def all_lists(cli: Cli) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(cli.ok("lists", "list", "--json").stdout)
    return rows


def all_subscribers(cli: Cli) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads(cli.ok("subscribers", "list", "--json").stdout)
    return rows


def test_apply_the_example_creates_the_list_once(cli: Cli) -> None:
    out = cli.ok("lists", "apply", str(EXAMPLE_LISTS), "--dry-run").stdout
    assert f"(dry run) {CHAIN}: created; 4 member(s) added" in out
    assert all_lists(cli) == []

    assert (
        f"{CHAIN}: created; 4 member(s) added"
        in cli.ok("lists", "apply", str(EXAMPLE_LISTS)).stdout
    )
    again = cli.ok("lists", "apply", str(EXAMPLE_LISTS)).stdout
    assert again.strip() == f"{CHAIN}: no change"

    settings = {
        "slug": CHAIN,
        "name": "Kazakhstan prayer chain",
        "follows": ["country=KZ"],
        "cadence": "weekly",
        "schedule": "mon 07:00",
        "time_zone": "Asia/Almaty",
        "channels": ["email", "telegram"],
    }
    (listed,) = all_lists(cli)
    assert listed["description"].startswith("Every Monday morning")
    assert {k: listed[k] for k in settings} == settings
    assert listed["members"] == 4

    shown = show_list(cli)
    assert {k: shown[k] for k in settings} == settings
    assert shown["description"] == listed["description"]
    assert shown["members"] == [
        {"email": email, "name": name, "status": "active", "source": "file"}
        for email, name in FILE_MEMBERS
    ]
    # The member's own settings from the file.
    subscribers = {s["email"]: s for s in all_subscribers(cli)}
    assert subscribers["anna.petrova@example.org"]["time_zone"] == "Europe/Berlin"
    assert subscribers["maria.schmidt@example.org"]["locale"] == "de"

    unknown = cli("lists", "show", "kazakstan-prayer-chain")
    assert unknown.exit_code == 1
    assert f"no list 'kazakstan-prayer-chain' (lists: {CHAIN})" in unknown.stderr


def test_members_the_file_no_longer_names_leave_and_others_stay(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    shutil.copy(EXAMPLE_LISTS / "example-prayer-chain.yaml", folder)
    chain = folder / "example-prayer-chain.yaml"
    cli.ok("lists", "apply", "lists")
    cli.ok("subscribers", "add", "added@example.org", "--list", CHAIN)
    (tmp_path / "people.csv").write_text("email,name\nimported@example.org,Imported\n")
    cli.ok("subscribers", "import", "people.csv", "--list", CHAIN)

    text = chain.read_text()
    without_david = text.replace(
        "  - email: david.okafor@example.org\n    name: David Okafor\n", ""
    )
    assert without_david != text
    chain.write_text(without_david)
    out = cli.ok("lists", "apply", "lists").stdout
    assert out.strip() == f"{CHAIN}: 1 removed: david.okafor@example.org"

    chain.write_text(without_david.replace("schedule: mon 07:00", "schedule: Friday 18:30"))
    out = cli.ok("lists", "apply", "lists").stdout
    assert out.strip() == f"{CHAIN}: changed schedule"
    # Written back as 'fri 18:30', and read the same way next time: no change.
    assert cli.ok("lists", "apply", "lists").stdout.strip() == f"{CHAIN}: no change"

    shown = show_list(cli)
    assert shown["schedule"] == "fri 18:30"
    assert [(m["email"], m["source"]) for m in shown["members"]] == [
        ("added@example.org", "import"),
        ("anna.petrova@example.org", "file"),
        ("imported@example.org", "import"),
        ("maria.schmidt@example.org", "file"),
        ("prayer-team@example.org", "file"),
    ]
    # David left the list; he is still a subscriber.
    david = json.loads(cli.ok("subscribers", "show", "david.okafor@example.org", "--json").stdout)
    assert (david["status"], david["lists"]) == ("active", [])


BAD_LIST = """\
name: Bad chain
follows:
  - country=KZ
  - country=Atlantis
cadence: weekly
schedule: "07:00"
time_zone: Mars/Olympus
shedule: mon 07:00
members:
  - ok@example.org
  - email: not-an-email
    name: Nobody
"""

TWICE = """\
name: Twice
follows: KZ
members:
  - same@example.org
  - Same@example.org
"""

GOOD_LIST = """\
name: Good chain
follows: [country=UZ]
members: [good@example.org]
"""


def test_a_bad_list_file_names_every_problem_and_nothing_is_written(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "bad.yaml").write_text(BAD_LIST)
    (folder / "good.yaml").write_text(GOOD_LIST)
    (folder / "twice.yaml").write_text(TWICE)
    result = cli("lists", "apply", "lists")
    assert result.exit_code == 1
    problems = [
        "lists/bad.yaml:4 [follows.1]: unknown country 'Atlantis'",
        "lists/bad.yaml:6 [schedule]: schedule '07:00': a weekly digest needs a day",
        "lists/bad.yaml:7 [time_zone]: unknown time zone 'Mars/Olympus'",
        "lists/bad.yaml:8 [shedule]: Extra inputs are not permitted",
        "lists/bad.yaml:11 [members.1.email]: invalid email 'not-an-email'",
        "lists/twice.yaml:4 [members]: members listed twice: same@example.org",
    ]
    assert f"{len(problems)} problems found" in result.stderr
    for problem in problems:
        assert problem in result.stderr
    # In the order of the file.
    assert result.stderr.index("bad.yaml:6") < result.stderr.index("bad.yaml:8")
    assert all_lists(cli) == []
    assert all_subscribers(cli) == []  # not even good.yaml's member


def test_a_case_the_store_does_not_know_is_named_by_line(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD_LIST)
    (folder / "pastor.yaml").write_text(
        "name: One pastor\n"
        "follows:\n"
        "  - country=KZ\n"
        "  - case=Nobody Atall\n"
        "members: [x@example.org]\n"
    )
    result = cli("lists", "apply", "lists")
    assert result.exit_code == 1
    assert "lists/pastor.yaml:4 [follows.1]: no case 'Nobody Atall'" in result.stderr
    assert all_lists(cli) == []
    assert all_subscribers(cli) == []


def test_broken_yaml_and_missing_files_name_the_place(tmp_path: Path) -> None:
    # Refused while reading the files, before any store is opened: one database is enough.
    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    )
    cli = Cli(settings, tmp_path)
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "broken.yaml").write_text("name: Broken\nfollows: [KZ\nmembers: []\n")
    (folder / "plain.yaml").write_text("- just\n- a list\n")
    result = cli("lists", "apply", "lists", "nowhere.yaml")
    assert result.exit_code == 1
    assert "nowhere.yaml: no such file or folder" in result.stderr
    assert "lists/broken.yaml:3: not valid YAML" in result.stderr
    assert "lists/plain.yaml:1: a list file must be a mapping of fields" in result.stderr
    assert not (tmp_path / "n.db").exists()


SHEET_LIST = """\
slug: kazakhstan-prayer-sheet
name: Kazakhstan prayer sheet
follows: [country=KZ]
cadence: weekly
schedule: mon 07:00
template: {template}
members: [anna@example.org]
"""

SHEET_SUBJECT = "Prayer sheet: {{ title }}, {{ update_count }} new\n"
SHEET_TEXT = """\
PRAY THIS WEEK ({{ period_label }})
{% for country in sections %}{% for section in country.cases %}{% for update in section.updates %}
* {{ section.case.title }}: {{ update.title }}
{% endfor %}{% endfor %}{% endfor %}
{{ personal }}
"""


def test_a_list_words_its_digest_its_own_way(cli: Cli, tmp_path: Path) -> None:
    """`template: prayer-sheet` reads lists/prayer-sheet/… from templates_dir: here the subject
    and the text part; the HTML part falls back to the usual one."""
    own = tmp_path / "templates" / "lists" / "prayer-sheet" / "email"
    own.mkdir(parents=True)
    (own / "digest_subject.txt").write_text(SHEET_SUBJECT)
    (own / "digest.txt").write_text(SHEET_TEXT)
    themed = Cli(cli.settings.model_copy(update={"templates_dir": tmp_path / "templates"}), cli.cwd)
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "sheet.yaml").write_text(SHEET_LIST.format(template="prayer-sheet"))
    themed.ok("cases", "import", "--sample")
    themed.ok("lists", "apply", "lists")
    assert show_list(themed, "kazakhstan-prayer-sheet")["template"] == "prayer-sheet"
    themed.ok(
        "updates", "add", "Kashkumbaev", "--title", "Appeal hearing set", "--source", "Forum 18"
    )
    themed.ok("digest", "send", "--list", "kazakhstan-prayer-sheet")
    [digest] = [m for m in maildir(themed.settings) if "sheet" in str(m["Subject"])]
    assert str(digest["Subject"]) == "Prayer sheet: Kazakhstan prayer sheet, 1 new"
    text = text_of(digest)
    assert text.startswith("PRAY THIS WEEK (")
    assert "* Pastor Bakhytzhan Kashkumbayev: Appeal hearing set" in text
    assert "/unsubscribe/" in text  # the reader's footer, where {{ personal }} put it
    html = digest.get_body(("html",))
    assert html is not None
    assert "Appeal hearing set" in html.get_content()  # the usual HTML template


def test_a_list_template_that_is_missing_broken_or_drops_the_footer_is_named(
    cli: Cli, tmp_path: Path
) -> None:
    templates = tmp_path / "templates" / "lists"
    (templates / "broken" / "email").mkdir(parents=True)
    (templates / "broken" / "email" / "digest_subject.txt").write_text("{{ title | nosuch }}\n")
    (templates / "no-footer" / "email").mkdir(parents=True)
    (templates / "no-footer" / "email" / "digest.html").write_text("<p>{{ title }}</p>\n")
    themed = Cli(cli.settings.model_copy(update={"templates_dir": tmp_path / "templates"}), cli.cwd)
    themed.ok("cases", "import", "--sample")
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "bad.yaml").write_text(SHEET_LIST.format(template="Prayer Sheet"))
    bad_name = themed("lists", "apply", "lists")
    assert "lists/bad.yaml:6 [template]: a folder name under lists/" in bad_name.stderr
    (folder / "bad.yaml").unlink()
    for name in ("missing", "broken", "no-footer"):
        text = SHEET_LIST.format(template=name).replace("kazakhstan-prayer-sheet", name)
        (folder / f"{name}.yaml").write_text(text)
    result = themed("lists", "apply", "lists")
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert (
        "lists/missing.yaml:6 [template]: no templates in lists/missing/ under templates_dir" in err
    )
    assert "lists/broken.yaml:6 [template]: " in err
    assert "lists/broken/email/digest_subject.txt:1: No filter named 'nosuch'" in err
    assert "lists/no-footer.yaml:6 [template]: " in err
    assert "lists/no-footer/email/digest.html: has no {{ personal }}" in err
    assert all_lists(themed) == []
    # `run` checks every template before sending anything, the lists' own too.
    refused = themed("run", "--once")
    assert refused.exit_code == 1
    assert "lists/broken/email/digest_subject.txt:1" in refused.stderr


def test_someone_who_left_a_list_is_not_put_back_by_its_file_until_they_join_again(
    cli: Cli, tmp_path: Path
) -> None:
    """Leaving a prayer chain by its digest's unsubscribe link (or the preference page) is the
    reader's own choice: applying the list file again, an import or an administrator's add
    that names them does not put them back, and says so. Joining again by the sign-up form
    does."""
    folder = tmp_path / "lists"
    folder.mkdir()
    shutil.copy(EXAMPLE_LISTS / "example-prayer-chain.yaml", folder)
    cli.ok("lists", "apply", "lists")
    anna = "anna.petrova@example.org"

    async def leave() -> None:
        async with open_store(cli.settings) as store, store.transaction() as session:
            subscriber = await get_subscriber(session, anna)
            chain = await get_list(session, CHAIN)
            assert await leave_list(session, subscriber.id, chain.id)

    asyncio.run(leave())
    assert anna not in [m["email"] for m in show_list(cli)["members"]]

    out = cli.ok("lists", "apply", "lists").stdout
    assert f"{CHAIN}: 1 named in the file left the list themselves and stay off it: {anna}" in out
    assert anna not in [m["email"] for m in show_list(cli)["members"]]
    added = cli.ok("subscribers", "add", anna, "--list", CHAIN).stdout
    assert "left the list" in added
    assert "was not put back" in added
    assert anna not in [m["email"] for m in show_list(cli)["members"]]

    async def join_again() -> None:
        # The sign-up form of the list, and the link in the confirmation it sends.
        async with open_store(cli.settings) as store, store.transaction() as session:
            chain = await get_list(session, CHAIN)
            assert await request_signup(
                session, cli.settings, email=anna, name="Anna", follows=[],
                cadence=Cadence.WEEKLY, mailing_list=chain, now=datetime.now(UTC),
            )  # fmt: skip
            subscriber = await get_subscriber(session, anna)
            assert await confirm_signup(session, subscriber.id, subscriber.token_version)

    asyncio.run(join_again())
    assert anna in [m["email"] for m in show_list(cli)["members"]]
    out = cli.ok("lists", "apply", "lists").stdout
    assert "stay off" not in out


async def test_the_api_will_not_put_back_on_a_list_someone_who_left_it(api: AppClient) -> None:
    p, client = api
    anna = "anna.petrova@example.org"
    async with p.store.transaction() as session:
        subscriber = await get_subscriber(session, anna)
        assert await leave_list(session, subscriber.id, (await get_list(session, CHAIN)).id)
    answer = await client.post(f"/api/lists/{CHAIN}/members", json={"email": anna}, headers=AUTH)
    assert answer.status_code == 409
    assert "left the list" in answer.json()["message"]
