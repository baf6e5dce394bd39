"""`notifier --help` answers at once: it loads Typer and the command declarations, not the
store, the web app, the bot, the service or even asyncio. (What that costs in seconds is for
`python -m bench.cli` to say; a test on a busy machine cannot.)"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from notifier.cli import LAZY_GROUPS, ORDER, app

HEAVY = (
    "sqlalchemy", "alembic", "aiosqlite", "asyncpg", "fastapi", "starlette", "uvicorn",
    "telegram", "apscheduler", "aiosmtplib", "jinja2", "pydantic", "pydantic_settings", "yaml",
    "pycountry", "asyncio", "rich",
)  # fmt: skip

LOADED = """
import json, sys
{before}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))))
"""


def heavy_modules_loaded(before: str) -> list[str]:
    code = LOADED.format(before=before, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_nothing_heavy() -> None:
    assert heavy_modules_loaded("import notifier.cli") == []


def test_help_loads_nothing_heavy() -> None:
    run_help = (
        "import contextlib, io\n"
        "sys.argv = ['notifier', '--help']\n"
        "from notifier.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main()\n"
    )
    assert heavy_modules_loaded(run_help) == []


def test_each_group_loaded_on_use_is_described_as_its_module_describes_it() -> None:
    for name, (module, help_text) in LAZY_GROUPS.items():
        sub_app = importlib.import_module(module).app
        assert isinstance(sub_app, typer.Typer)
        assert sub_app.info.help == help_text, name


def test_help_lists_every_command_once_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("Commands:")[1].splitlines()
    names = [line.split()[0] for line in lines if line[:2] == "  " and line[2:3].strip()]
    assert names == list(ORDER)
    assert "Cases: the people and groups notifier follows." in result.stdout
    # A group loaded on use still has its own help and commands.
    cases = CliRunner().invoke(app, ["cases", "--help"])
    assert cases.exit_code == 0, cases.output
    assert "import" in cases.stdout
    assert "--install-completion" not in cases.stdout
