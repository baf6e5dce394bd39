"""The latest schema revision, read from the migration files without Alembic.

Every command opens the store and brings its schema up to date first. Loading Alembic to find
out that there is nothing to do took longer than the rest of `notifier cases list`; with the
head known from the files, a store already at it costs one query. Whenever the files do not
say plainly which revision is the latest, the answer is None and Alembic decides."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

VERSIONS = Path(__file__).parent / "migrations" / "versions"


def _constants(path: Path) -> dict[str, object]:
    """The module-level `name = <literal>` assignments of a migration file."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name, value = node.target.id, node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, value = node.targets[0].id, node.value
        else:
            continue
        try:
            found[name] = ast.literal_eval(value)
        except ValueError:
            found[name] = ValueError  # not a literal: this file cannot be read plainly
    return found


@cache
def latest_revision(versions: Path = VERSIONS) -> str | None:
    """The one head revision of the migration files, or None when unsure (no files, a file
    whose revision is not a plain string, or more than one head)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name.startswith("_"):
            continue
        values = _constants(path)
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or revision in revisions:
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple) and all(isinstance(d, str) for d in down):
            parents.update(down)
        elif down is not None:
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
