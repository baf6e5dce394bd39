"""`notifier init` makes the store; no other command does. notifier.toml is found from any folder
below it, and its relative paths mean the same from each; where there is no store, a command
says where it looked and how to make or name one."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner, Result

from notifier.cli import app
from notifier.config import PATH_SETTINGS, Settings, load_settings, locate_config
from notifier.store.engine import create_engine, store_location, stored_revisions
from notifier.store.migrate import alembic_config, upgrade
from notifier.store.revisions import latest_revision
from tests.helpers import Cli

Run = Callable[..., Result]


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> Run:
    """`notifier …` run in a folder with no NOTIFIER_* variables at all, as a new user would."""
    for name in list(os.environ):
        if name.startswith("NOTIFIER_"):
            monkeypatch.delenv(name)

    def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

    return run


def test_a_command_where_there_is_no_store_says_where_it_looked_and_creates_nothing(
    tmp_path: Path, bare: Run
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = bare(elsewhere, "subscribers", "show", "anna@example.org")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"error: no notifier store at {elsewhere}/var/notifier.db (the file does not exist)"
    )
    assert f"no notifier.toml in {elsewhere} or any folder above it" in lines[1]
    assert "notifier init" in result.stderr
    assert "--config FILE" in result.stderr
    assert "NOTIFIER_DATA_DIR" in result.stderr
    assert "NOTIFIER_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.output
    assert not (elsewhere / "var").exists()  # nothing was made there

    # Told where to look, it says which variable sent it there.
    named = bare(elsewhere, "cases", "list", env={"NOTIFIER_DATA_DIR": str(tmp_path / "nope")})
    assert named.exit_code == 1
    assert f"no notifier store at {tmp_path}/nope/notifier.db" in named.stderr
    assert "data_dir from the environment variable NOTIFIER_DATA_DIR" in named.stderr
    assert not (tmp_path / "nope").exists()

    # `db upgrade` brings an existing store up to date; it does not make one either.
    upgrade = bare(elsewhere, "db", "upgrade")
    assert upgrade.exit_code == 1
    assert "no notifier store at" in upgrade.stderr
    assert not (elsewhere / "var").exists()


def test_init_makes_a_store_that_commands_in_any_subfolder_find(tmp_path: Path, bare: Run) -> None:
    project = tmp_path / "project"
    deeper = project / "cases" / "2026"
    deeper.mkdir(parents=True)
    made = bare(project, "init")
    assert made.exit_code == 0, made.output
    assert f"settings: wrote {project}/notifier.toml" in made.stdout
    assert f"store: created {project}/var/notifier.db" in made.stdout
    assert f"link-signing key: created {project}/var/secret.key" in made.stdout
    assert 'data_dir = "var"' in (project / "notifier.toml").read_text()

    imported = bare(deeper, "cases", "import", "--sample")
    assert imported.exit_code == 0, imported.output
    listed = bare(deeper, "cases", "list", "--json")
    assert [c["slug"] for c in json.loads(listed.stdout)] == [
        "bakhytzhan-kashkumbayev",
        "makhset-djabbarbergenov",
    ]
    assert not (deeper / "var").exists()
    status = bare(deeper, "status")
    assert f"store: {project}/var/notifier.db" in status.stdout
    assert json.loads(bare(deeper, "status", "--json").stdout)["store"] == (
        f"{project}/var/notifier.db"
    )
    shown = bare(deeper, "config", "show")
    assert f"settings from {project}/notifier.toml (found from {deeper})" in shown.stdout

    # Twice is harmless: it says what is there and changes nothing.
    before = (project / "notifier.toml").read_text()
    again = bare(deeper, "init")
    assert again.exit_code == 0, again.output
    assert f"settings: {project}/notifier.toml (exists; left as it is)" in again.stdout
    assert f"store: {project}/var/notifier.db exists (schema " in again.stdout
    assert "created" not in again.stdout
    assert (project / "notifier.toml").read_text() == before
    assert len(json.loads(bare(project, "cases", "list", "--json").stdout)) == 2


def test_init_writes_the_settings_file_named_and_only_when_there_is_none(
    tmp_path: Path, bare: Run
) -> None:
    target = tmp_path / "etc" / "notifier.toml"
    made = bare(tmp_path, "--config", str(target), "init")
    assert made.exit_code == 0, made.output
    assert f"settings: wrote {target}" in made.stdout
    # Its data_dir is beside the file, wherever init was run from.
    assert f"store: created {tmp_path}/etc/var/notifier.db" in made.stdout
    assert not (tmp_path / "notifier.toml").exists()

    # With --no-config-file, or NOTIFIER_CONFIG empty, settings come from the environment only.
    bare_dir = tmp_path / "env-only"
    bare_dir.mkdir()
    env = {"NOTIFIER_DATA_DIR": str(tmp_path / "data")}
    quiet = bare(bare_dir, "init", "--no-config-file", env=env)
    assert quiet.exit_code == 0, quiet.output
    assert f"store: created {tmp_path}/data/notifier.db" in quiet.stdout
    assert not (bare_dir / "notifier.toml").exists()
    env["NOTIFIER_CONFIG"] = ""
    assert bare(bare_dir, "init", env=env).exit_code == 0
    assert not (bare_dir / "notifier.toml").exists()

    # The environment's data_dir is written into a starter file, so the file alone finds it.
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    assert bare(recorded, "init", env={"NOTIFIER_DATA_DIR": str(tmp_path / "data")}).exit_code == 0
    assert f'data_dir = "{tmp_path}/data"' in (recorded / "notifier.toml").read_text()
    assert bare(recorded, "cases", "list").exit_code == 0


@pytest.mark.empty_database
def test_only_init_creates_the_store_on_either_database(cli: Cli) -> None:
    location = store_location(cli.settings.database_url)
    for command in (["cases", "list"], ["db", "upgrade"], ["run", "--once"]):
        refused = cli(*command)
        assert refused.exit_code == 1, command
        assert f"error: no notifier store at {location} (" in refused.stderr
        assert "notifier init" in refused.stderr
        assert "NOTIFIER_DATABASE_URL" in refused.stderr
    made = cli.ok("init")
    assert "settings: no settings file (NOTIFIER_CONFIG is set but empty)" in made.stdout
    assert f"store: created {location} (schema " in made.stdout
    assert "nothing to change" not in cli.ok("cases", "import", "--sample").stdout
    assert f"store: {location} exists (schema " in cli.ok("init").stdout
    assert "schema already at" in cli.ok("db", "upgrade").stdout
    assert f"store: {location}" in cli.ok("status").stdout


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_named(
    cli: Cli, postgres_database: str | None
) -> None:
    if postgres_database is None:
        pytest.skip("needs NOTIFIER_TEST_DATABASE_URL")
    missing = postgres_database.rsplit("/", 1)[0] + "/notifier_no_such_database"
    settings = Settings(data_dir=cli.settings.data_dir, database_url=missing)
    result = Cli(settings, cli.cwd)("cases", "list")
    assert result.exit_code == 1
    assert "notifier_no_such_database (the server has no such database)" in result.stderr
    assert "Traceback" not in result.output


def test_a_database_server_that_cannot_be_reached_is_named(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://notifier:secret@127.0.0.1:{port}/notifier"
    settings = Settings(data_dir=tmp_path / "var", database_url=url)
    result = Cli(settings, tmp_path)("cases", "list")
    assert result.exit_code == 1
    assert f"cannot reach the store at postgresql+asyncpg://notifier:***@127.0.0.1:{port}/" in (
        result.stderr
    )
    assert "secret" not in result.output
    assert "Traceback" not in result.output


def test_relative_paths_in_a_settings_file_are_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "notifier.toml").write_text(
        'templates_dir = "look"\nbounce_maildir = "/var/mail/b"\nbounce_address = "b@x.org"\n'
        'database_url = "sqlite:///db/n.db"\n'
    )
    monkeypatch.chdir(project / "sub")
    settings = load_settings(environ={})
    assert settings.data_dir == project / "var"  # the default, beside the file
    assert settings.templates_dir == project / "look"
    assert settings.bounce_maildir == Path("/var/mail/b")
    assert settings.database_url == f"sqlite+aiosqlite:///{project}/db/n.db"
    # The environment is read from the working folder, as a command-line argument would be.
    from_env = load_settings(environ={"NOTIFIER_DATA_DIR": "here"})
    assert from_env.data_dir == Path("here")
    (project / "notifier.toml").write_text('data_dir = "data"\n')
    assert load_settings(environ={}).data_dir == project / "data"
    assert load_settings(environ={}).database_url == (
        f"sqlite+aiosqlite:///{project}/data/notifier.db"
    )


def test_the_nearest_settings_file_wins_and_the_named_one_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "inner" / "deeper").mkdir(parents=True)
    (tmp_path / "notifier.toml").write_text('default_locale = "de"\n')
    (tmp_path / "inner" / "notifier.toml").write_text('default_locale = "ru"\n')
    monkeypatch.chdir(tmp_path / "inner" / "deeper")
    found = locate_config(None, {})
    assert (found.path, found.how) == (tmp_path / "inner" / "notifier.toml", "found")
    assert load_settings(environ={}).default_locale == "ru"
    assert load_settings(tmp_path / "notifier.toml", environ={}).default_locale == "de"
    named = {"NOTIFIER_CONFIG": str(tmp_path / "notifier.toml")}
    assert load_settings(environ=named).default_locale == "de"
    assert load_settings(environ={"NOTIFIER_CONFIG": ""}).default_locale == "en"
    assert locate_config(None, {"NOTIFIER_CONFIG": ""}).path is None


def test_every_path_setting_is_anchored_to_its_file() -> None:
    def names_a_path(annotation: Any) -> bool:
        return "Path" in str(annotation)

    paths = {n for n, f in Settings.model_fields.items() if names_a_path(f.annotation)}
    assert paths == set(PATH_SETTINGS)


def test_the_store_is_named_without_its_password() -> None:
    assert store_location("postgresql+asyncpg://u:secret@db:5433/n") == (
        "postgresql+asyncpg://u:***@db:5433/n"
    )
    assert store_location("sqlite+aiosqlite:////srv/n/notifier.db") == "/srv/n/notifier.db"


def test_the_latest_revision_is_read_from_the_files_as_alembic_reads_it(tmp_path: Path) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert latest_revision() == head
    # Unsure means None (Alembic decides): two heads, or a revision that is not plain text.
    files = {
        "a.py": 'revision = "a"\ndown_revision = None\n',
        "b.py": 'revision: str = "b"\ndown_revision: str | None = "a"\n',
    }
    cases = [
        ({}, "b"),
        ({"c.py": 'revision = "c"\ndown_revision = "a"\n'}, None),
        (
            {
                "c.py": 'revision = "c"\ndown_revision = "a"\n',
                "m.py": 'revision = "m"\ndown_revision = ("b", "c")\n',
            },
            "m",
        ),
        ({"x.py": 'revision = make()\ndown_revision = "b"\n'}, None),
    ]
    for number, (more, expected) in enumerate(cases):
        folder = tmp_path / str(number)
        folder.mkdir()
        for name, text in (files | more).items():
            (folder / name).write_text(text)
        assert latest_revision(folder) == expected, more


@pytest.mark.empty_database
def test_a_store_behind_the_latest_schema_is_still_upgraded(settings: Settings, cli: Cli) -> None:
    async def migrate_to(revision: str | None) -> list[str]:
        engine = create_engine(settings.database_url)
        try:
            if revision is not None:
                await upgrade(engine, revision)
            return await stored_revisions(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(migrate_to("0011")) == ["0011"]
    cli.ok("cases", "list")
    assert asyncio.run(migrate_to(None)) == [latest_revision()]
