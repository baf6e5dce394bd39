"""Settings: defaults < notifier.toml < NOTIFIER_*; bad values name the key and its origin."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from notifier.cli import app
from notifier.config import load_settings
from notifier.errors import ConfigError


def test_defaults_put_sqlite_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.data_dir == Path("var")
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'notifier.db'}"


def test_environment_wins_over_file_which_wins_over_defaults(tmp_path: Path) -> None:
    config = tmp_path / "notifier.toml"
    config.write_text('data_dir = "/srv/notifier"\ndefault_time_zone = "Asia/Almaty"\n')
    settings = load_settings(config, environ={"NOTIFIER_DEFAULT_TIME_ZONE": "Europe/Berlin"})
    assert settings.data_dir == Path("/srv/notifier")
    assert settings.default_time_zone == "Europe/Berlin"
    assert settings.database_url.endswith("/srv/notifier/notifier.db")


def test_file_found_in_working_directory_or_named_by_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notifier.toml").write_text('default_locale = "de"\n')
    assert load_settings(environ={}).default_locale == "de"
    other = tmp_path / "other.toml"
    other.write_text('[notifier]\ndefault_locale = "ru"\n')
    assert load_settings(environ={"NOTIFIER_CONFIG": str(other)}).default_locale == "ru"


def test_plain_database_schemes_get_the_async_driver() -> None:
    settings = load_settings(environ={"NOTIFIER_DATABASE_URL": "postgresql://u:secret@db/notifier"})
    assert settings.database_url == "postgresql+asyncpg://u:secret@db/notifier"
    assert settings.masked()["database_url"] == "postgresql+asyncpg://u:***@db/notifier"


def test_bad_value_from_environment_names_key_and_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"NOTIFIER_DEFAULT_TIME_ZONE": "Mars/Olympus"})
    message = str(caught.value)
    assert "'default_time_zone'" in message
    assert "environment variable NOTIFIER_DEFAULT_TIME_ZONE" in message
    assert "Mars/Olympus" in message


def test_bad_value_and_unknown_key_in_file_name_the_file(tmp_path: Path) -> None:
    config = tmp_path / "notifier.toml"
    config.write_text('database_url = "mysql://x/y"\ncolour = "blue"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    message = str(caught.value)
    assert f"setting 'database_url' from {config}: unsupported database 'mysql'" in message
    assert f"setting 'colour' from {config}: unknown setting" in message


def test_broken_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("data_dir = \n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML.*line 1"):
        load_settings(broken, environ={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_config_show_masks_the_password(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["config", "show", "--json"],
        env={"NOTIFIER_DATABASE_URL": "postgresql://admin:hunter2@db/n", "NOTIFIER_CONFIG": ""},
    )
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.stdout
    assert '"database_url": "postgresql+asyncpg://admin:***@db/n"' in result.stdout


def test_cli_reports_a_bad_setting_without_a_traceback() -> None:
    result = CliRunner().invoke(
        app, ["config", "show"], env={"NOTIFIER_PUBLIC_URL": "example.org", "NOTIFIER_CONFIG": ""}
    )
    assert result.exit_code == 1
    assert "setting 'public_url' from environment variable NOTIFIER_PUBLIC_URL" in result.stderr
    assert "Traceback" not in result.output
