"""Case files: one YAML document per case, with its updates. Parsed and checked here; written
to the store by `notifier.store.cases`. The format is documented in docs/case-files.md."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from notifier.domain.case_specs import CaseSpec, translation_problems
from notifier.domain.text_fields import (
    friendly_reason,
)
from notifier.errors import InputError, Problem
from notifier.ingest.yaml_lines import read_documents, yaml_line, yaml_problem


def parse_case_text(text: str, where: str) -> list[CaseSpec]:
    """Every case in a YAML text (one or more documents); InputError lists every problem."""
    problems: list[Problem] = []
    specs: list[CaseSpec] = []
    try:
        documents = read_documents(text)
    except yaml.YAMLError as exc:
        raise InputError([yaml_problem(exc, text, where)]) from None
    for node, document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            line = node.start_mark.line + 1 if node is not None else 1
            problems.append(Problem(f"{where}:{line}", "", "a case must be a mapping of fields"))
            continue
        found: list[tuple[tuple[str | int, ...], str]] = []
        try:
            spec = CaseSpec.model_validate(document)
        except ValidationError as exc:
            found = [(tuple(e["loc"]), friendly_reason(e)) for e in exc.errors()]
        else:
            found = translation_problems(spec)
            if not found:
                specs.append(spec)
        placed = []
        for loc, reason in found:
            line = yaml_line(node, loc) or (node.start_mark.line + 1 if node else 1)
            field = ".".join(str(p) for p in loc)
            placed.append((line, Problem(f"{where}:{line}", field, reason)))
        # In the order of the file, not of the model's fields.
        problems += [p for _, p in sorted(placed, key=lambda lp: lp[0])]
    seen: dict[str, int] = {}
    for spec in specs:
        seen[spec.slug] = seen.get(spec.slug, 0) + 1
        keys = [u.stable_key() for u in spec.updates]
        for key in {k for k in keys if keys.count(k) > 1}:
            problems.append(
                Problem(where, f"{spec.slug}.updates", f"two updates share key {key!r}")
            )
    for slug, count in seen.items():
        if count > 1:
            problems.append(Problem(where, "slug", f"case {slug!r} appears {count} times"))
    if problems:
        raise InputError(problems)
    return specs


def load_case_files(paths: list[Path]) -> list[CaseSpec]:
    """Parse every file; report the problems of all of them together."""
    problems: list[Problem] = []
    specs: list[CaseSpec] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), "", f"cannot read: {exc}"))
            continue
        try:
            specs.extend(parse_case_text(text, str(path)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return specs


def sample_case_files() -> list[Path]:
    """The sample cases shipped in the package."""
    folder = resources.files("notifier.ingest") / "sample"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))
