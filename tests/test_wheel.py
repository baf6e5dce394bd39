"""The built wheel carries what notifier needs at run time, and an installed copy renders.

The templates live in the top-level `templates/` folder and reach the package only through
pyproject.toml's `package-dir` mapping, and the packages are listed there by hand: a mistake
in either passes every other test (they import the working tree) and fails only once
installed. So this builds the wheel from a copy of the working tree, checks its file list,
installs it with pip into a folder of its own, and renders from that copy in a fresh
interpreter that cannot see the working tree or the editable install.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from notifier.config import Settings
from notifier.domain import Channel
from notifier.render.messages import Personal, Renderer
from notifier.render.samples import sample_contexts
from tests.helpers import ROOT

#: What a wheel is built from (pyproject.toml reads README.md as the long description).
SOURCES = ("pyproject.toml", "README.md", "notifier", "templates")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")

READER = Personal(
    name="Anna",
    email="anna@example.org",
    reason="you follow news from Kazakhstan",
    unsubscribe_url="https://notifier.example.org/unsubscribe/x",
    preferences_url="https://notifier.example.org/preferences/x",
)

#: Run in the installed copy: where notifier was imported from, every shipped template's
#: source as its loader finds it, every template checked with sample data, and the sample
#: alert by email and Telegram. Mirrors `rendered_alert` below.
INSTALLED = """
import json, sys
import notifier, notifier.templates
from notifier.config import Settings
from notifier.config import Settings
from notifier.render.messages import Personal, Renderer
from notifier.render.samples import sample_contexts
from notifier.render.templates import check_templates
from notifier.store.models import Channel

names = json.loads(sys.argv[1])
renderer = Renderer(Settings(public_url="https://notifier.example.org"))
check_templates(renderer.env)
loader = renderer.env.loader
sources = {name: loader.get_source(renderer.env, name)[0] for name in names}
reader = Personal(**json.loads(sys.argv[2]))
sample = sample_contexts()["email/alert.html"]
alert = {}
for channel in (Channel.EMAIL, Channel.TELEGRAM):
    body = renderer.alert(sample["case"], sample["update"], channel, "en")
    final = renderer.personalise(body, reader)
    alert[channel.value] = [final.subject, final.text, final.html]
json.dump(
    {
        "notifier": notifier.__file__,
        "templates": notifier.templates.__file__,
        "sources": sources,
        "alert": alert,
    },
    sys.stdout,
)
"""


def shipped_templates() -> dict[str, Path]:
    """Every template in the working tree, by the name notifier loads it by."""
    folder = ROOT / "templates"
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.glob("*/*"))
        if path.is_file()
    }


def package_files() -> set[str]:
    """Every file of the package in the working tree, as the wheel names it."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "notifier").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def rendered_alert() -> dict[str, list[str]]:
    """The sample alert rendered from the working tree, as INSTALLED renders it."""
    r = Renderer(Settings(public_url="https://notifier.example.org"))
    sample = sample_contexts()["email/alert.html"]
    alert = {}
    for channel in (Channel.EMAIL, Channel.TELEGRAM):
        final = r.personalise(r.alert(sample["case"], sample["update"], channel, "en"), READER)
        alert[channel.value] = [final.subject, final.text, final.html]
    return alert


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        timeout=240,
    )


@pytest.mark.timeout(300)
def test_installed_wheel_carries_and_renders_the_templates(tmp_path: Path) -> None:
    # Built from a copy, so no build/ or egg-info is left in the working tree (and no stale
    # build/lib from an earlier build ends up in this wheel).
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=IGNORE)
        else:
            shutil.copy2(ROOT / name, source / name)
    pip("wheel", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(source))
    [wheel] = (tmp_path / "dist").glob("notifier-*.whl")

    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    templates = shipped_templates()
    assert {"email/alert.html", "telegram/alert.html", "web/home.html"} <= templates.keys()
    assert {f"notifier/templates/{name}" for name in templates} <= in_wheel
    # Every module and data file of the package, so a package missing from pyproject.toml's
    # list fails here.
    assert package_files() <= in_wheel
    assert not any(name.startswith("templates/") for name in in_wheel)

    installed = tmp_path / "installed"
    pip("install", "--no-deps", "--target", str(installed), str(wheel))

    # -S: no site-packages, so no editable install; notifier's dependencies come from this
    # environment's site-packages, after the installed copy. Run from an empty folder, so
    # the working tree is not on the path either.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dependencies = sysconfig.get_paths()["purelib"]
    reader = json.dumps(dataclasses.asdict(READER))
    run = subprocess.run(
        [sys.executable, "-S", "-c", INSTALLED, json.dumps(sorted(templates)), reader],
        cwd=elsewhere,
        env={"PYTHONPATH": f"{installed}:{dependencies}", "PTB_TIMEDELTA": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)

    assert Path(found["notifier"]).is_relative_to(installed)
    assert Path(found["templates"]).parent == installed / "notifier" / "templates"
    assert found["sources"] == {name: path.read_text() for name, path in templates.items()}
    assert found["alert"] == rendered_alert()
    assert READER.unsubscribe_url in found["alert"]["email"][2]
