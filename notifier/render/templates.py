"""The Jinja2 environment: shipped templates, overridable file by file from `templates_dir`;
sandboxed (admins edit templates), StrictUndefined (a missing variable is an error at preview
time, not a blank in 10,000 inboxes), HTML autoescaped (case text is data, never markup)."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    BytecodeCache,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from notifier import locales
from notifier.countries import country_label
from notifier.domain.list_specs import ListSpec
from notifier.errors import NotifierError, Problem
from notifier.render.samples import sample_contexts

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
    "telegram/footer.html",
)


#: What a mailing list may word its own way: `template: NAME` in its list file reads
#: `lists/NAME/<one of these>` from `templates_dir`, each falling back to the usual one.
LIST_TEMPLATES = (
    "email/digest_subject.txt",
    "email/digest.txt",
    "email/digest.html",
    "telegram/digest.html",
)


def for_list(name: str, template: str | None) -> list[str]:
    """Where to look for template `name` when rendering for a list with `template`."""
    return [f"lists/{template}/{name}", name] if template else [name]


class TemplateProblem(NotifierError):
    """A template that cannot be compiled or rendered; names the file and line."""


def nl2br(value: str) -> Markup:
    """Escape, then turn line breaks into <br>: a prayer's lines stay lines in HTML."""
    return Markup("<br>\n").join(escape(line) for line in str(value).split("\n"))


class _CompiledOnce(BytecodeCache):
    """Each template compiled once per process, however many environments load it (every
    command, store and web app makes its own): the code is kept by template name and file, and
    Jinja compiles again when the file's text no longer matches the checksum kept with it.
    Every environment make_environment makes has the same settings, so the code fits them all.
    Compiling was an eighth of the test suite's time."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledOnce()


def make_environment(templates_dir: Path | None = None) -> SandboxedEnvironment:
    loaders: list[BaseLoader] = []
    if templates_dir is not None:
        loaders.append(FileSystemLoader(str(templates_dir)))
    # The shipped ones: the top-level templates/ folder, installed as notifier.templates.
    loaders.append(PackageLoader("notifier.templates", ""))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        bytecode_cache=_COMPILED,
    )
    env.filters["nl2br"] = nl2br
    # {% trans %} and _() in a template speak the language `render` was asked for.
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext=locales._, ngettext=locales.ngettext, pgettext=locales.pgettext, newstyle=True
    )
    env.globals["language"] = locales.current
    env.globals["direction"] = locales.direction
    env.globals["country_label"] = country_label
    env.globals["status_label"] = locales._  # a case's status words (domain/status_words.py)
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


def render(env: SandboxedEnvironment, name: str | list[str], context: dict[str, Any]) -> str:
    """Render one template (the first of `name` that exists, given a list); any template error
    becomes a TemplateProblem naming file and line."""
    locale = context.get("locale")
    try:
        template = env.get_template(name) if isinstance(name, str) else env.select_template(name)
        with locales.speaking(locale) if locale else contextlib.nullcontext():
            return template.render(context)
    except (TemplateError, TypeError, AttributeError, ValueError) as exc:
        first = name if isinstance(name, str) else name[0]
        raise TemplateProblem(describe(exc, env, first)) from exc


#: Email bodies must place `{{ personal }}`: the footer with the unsubscribe link goes there.
WITH_FOOTER = ("email/alert.txt", "email/alert.html", "email/digest.txt", "email/digest.html")


def _check(env: SandboxedEnvironment, name: str, context: dict[str, Any]) -> str | None:
    """What is wrong with one template, compiled and rendered with sample data; None if fine."""
    try:
        template = env.get_template(name)
    except TemplateError as exc:
        return describe(exc, env, name)
    try:
        rendered = template.render(context)
    except Exception as exc:  # any error in an admin's template is reported, not raised
        return describe(exc, env, name)
    personal = context.get("personal")
    if name.endswith(WITH_FOOTER) and personal is not None and str(personal) not in rendered:
        where = template.filename or name
        return (
            f"{where}: has no {{{{ personal }}}}, where each reader's footer goes (their "
            "name, the unsubscribe and preference links); every email needs it"
        )
    return None


def _exists(env: SandboxedEnvironment, name: str) -> bool:
    assert env.loader is not None
    try:
        env.loader.get_source(env, name)
    except TemplateNotFound:
        return False
    return True


def check_list_template(env: SandboxedEnvironment, template: str) -> list[str]:
    """What is wrong with a list's own templates: none there, or one that fails with sample
    data (file and line)."""
    found = [n for n in LIST_TEMPLATES if _exists(env, f"lists/{template}/{n}")]
    if not found:
        return [
            f"no templates in lists/{template}/ under templates_dir; "
            f"put any of {', '.join(LIST_TEMPLATES)} there"
        ]
    contexts = sample_contexts()
    problems = (_check(env, f"lists/{template}/{n}", contexts[n]) for n in found)
    return [p for p in problems if p is not None]


def check_templates(env: SandboxedEnvironment) -> None:
    """Compile and render every template with sample data, so an error is found before
    anything is sent. Raises TemplateProblem listing every broken template."""
    contexts = sample_contexts()
    checks = [(name, contexts[name]) for name in TEMPLATES]
    # Every list's own templates too, whichever lists use them.
    for name in env.list_templates(filter_func=lambda n: n.startswith("lists/")):
        own = name.split("/", 2)[-1]
        if own in LIST_TEMPLATES:
            checks.append((name, contexts[own]))
    problems = [p for name, context in checks if (p := _check(env, name, context)) is not None]
    if problems:
        raise TemplateProblem("template errors:\n  " + "\n  ".join(problems))


def period_label(start: date | None, end: date) -> str:
    """A digest's period in the language spoken now: '30 November – 6 December 2026'."""
    if locales.current() != locales.DEFAULT:
        if start is None or start >= end:
            return locales.day_label(end)
        return locales.period_label(start, end)
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


def list_template_problems(
    env: SandboxedEnvironment, specs: Sequence[tuple[Path, ListSpec]]
) -> list[Problem]:
    """What is wrong with the lists' own templates (checked with sample data now, not when a
    digest is due), each named by the file and line of the list's `template` setting."""
    problems = []
    for path, spec in specs:
        if spec.template is not None:
            where = spec.template_where or str(path)
            problems += [
                Problem(where, "template", p) for p in check_list_template(env, spec.template)
            ]
    return problems
