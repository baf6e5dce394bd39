"""The Jinja2 environment: shipped templates, overridable file by file from `templates_dir`;
sandboxed (admins edit templates), StrictUndefined (a missing variable is an error at preview
time, not a blank in 10,000 inboxes), HTML autoescaped (case text is data, never markup)."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from notifier.errors import NotifierError

#: Every template notifier renders; `check_templates` renders each with sample data.
TEMPLATES = (
    "email/alert_subject.txt",
    "email/alert.txt",
    "email/alert.html",
    "email/digest_subject.txt",
    "email/digest.txt",
    "email/digest.html",
    "email/footer.txt",
    "email/footer.html",
    "email/confirm_subject.txt",
    "email/confirm.txt",
    "email/confirm.html",
    "telegram/alert.html",
    "telegram/digest.html",
)


class TemplateProblem(NotifierError):
    """A template that cannot be compiled or rendered; names the file and line."""


def nl2br(value: str) -> Markup:
    """Escape, then turn line breaks into <br>: a prayer's lines stay lines in HTML."""
    return Markup("<br>\n").join(escape(line) for line in str(value).split("\n"))


def make_environment(templates_dir: Path | None = None) -> SandboxedEnvironment:
    loaders: list[BaseLoader] = []
    if templates_dir is not None:
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders.append(PackageLoader("notifier", "templates"))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["nl2br"] = nl2br
    return env


@dataclass(frozen=True)
class _Where:
    file: str
    line: int | None


def _template_frame(exc: BaseException, env: SandboxedEnvironment) -> _Where | None:
    """The innermost template file and line in the traceback (Jinja rewrites its frames so
    they point at template source)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith((".html", ".txt")):
            found = _Where(frame.filename, frame.lineno)
    return found


def describe(exc: TemplateError | Exception, env: SandboxedEnvironment, name: str) -> str:
    if isinstance(exc, TemplateSyntaxError):
        where = exc.filename or exc.name or name
        return f"{where}:{exc.lineno}: {exc.message}"
    frame = _template_frame(exc, env)
    where = f"{frame.file}:{frame.line}" if frame else name
    return f"{where}: {exc}"


def render(env: SandboxedEnvironment, name: str, context: dict[str, Any]) -> str:
    """Render one template; any template error becomes a TemplateProblem naming file and line."""
    try:
        return env.get_template(name).render(context)
    except (TemplateError, TypeError, AttributeError, ValueError) as exc:
        raise TemplateProblem(describe(exc, env, name)) from exc


def check_templates(env: SandboxedEnvironment) -> None:
    """Compile and render every template with sample data, so an error is found before
    anything is sent. Raises TemplateProblem listing every broken template."""
    from notifier.render.samples import sample_contexts

    problems = []
    contexts = sample_contexts()
    for name in TEMPLATES:
        try:
            env.get_template(name)
        except TemplateError as exc:
            problems.append(describe(exc, env, name))
            continue
        try:
            env.get_template(name).render(contexts[name])
        except Exception as exc:  # any error in an admin's template is reported, not raised
            problems.append(describe(exc, env, name))
    if problems:
        raise TemplateProblem("template errors:\n  " + "\n  ".join(problems))


def period_label(start: date | None, end: date) -> str:
    if start is None or start >= end:
        return f"{end:%d %B %Y}".lstrip("0")
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} – {end:%d %B %Y}".replace(" 0", " ")
    if start.year != end.year:
        return f"{start:%d %B %Y} – {end:%d %B %Y}".replace(" 0", " ").lstrip("0")
    return f"{start:%d %B} – {end:%d %B %Y}".replace(" 0", " ").lstrip("0")


def day_label(moment: datetime, zone: str) -> str:
    """'Saturday 5 December 2026': the day `moment` falls on in the time zone `zone`."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B %Y}"
