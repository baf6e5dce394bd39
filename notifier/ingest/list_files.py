"""Mailing-list files: one YAML file per list under subscribers/ (format: subscribers/README.md)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import (
    ValidationError,
)

from notifier.domain.list_specs import ListSpec
from notifier.domain.text_fields import friendly_reason
from notifier.errors import InputError, Problem
from notifier.ingest.yaml_lines import read_document, yaml_line, yaml_problem


def load_list_files(paths: list[Path]) -> list[tuple[Path, ListSpec]]:
    """Every list file under the given files or folders; InputError lists every problem."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
        elif path.exists():
            files.append(path)
        else:
            problems.append(Problem(str(path), "", "no such file or folder"))
    specs: list[tuple[Path, ListSpec]] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8-sig")
            node, data = read_document(text)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), "", f"cannot read: {exc}"))
            continue
        except yaml.YAMLError as exc:
            problems.append(yaml_problem(exc, text, str(file)))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(f"{file}:1", "", "a list file must be a mapping of fields"))
            continue
        data.setdefault("slug", file.stem)
        try:
            spec = ListSpec.model_validate(data)
        except ValidationError as exc:
            found = []
            for error in exc.errors():
                loc = tuple(error["loc"])
                line = yaml_line(node, loc) or 1
                field = ".".join(str(p) for p in loc)
                found.append((line, Problem(f"{file}:{line}", field, friendly_reason(error))))
            # In the order of the file, not of the model's fields.
            problems += [p for _, p in sorted(found, key=lambda lp: lp[0])]
            continue
        spec.locate(
            {i: f"{file}:{yaml_line(node, ('follows', i)) or 1}" for i in range(len(spec.follows))},
            f"{file}:{yaml_line(node, ('template',)) or 1}",
        )
        specs.append((file, spec))
    slugs = [s.slug for _, s in specs]
    for file, spec in specs:
        if slugs.count(spec.slug) > 1:
            problems.append(
                Problem(str(file), "slug", f"another file also defines list {spec.slug!r}")
            )
    if problems:
        raise InputError(problems)
    return specs
