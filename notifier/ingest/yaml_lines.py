"""Where in a YAML file a value sits, so errors can name the line."""

from __future__ import annotations

from typing import Any

import yaml

from notifier.domain.text_fields import describe_character
from notifier.errors import Problem


def yaml_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line in the YAML file where the value at `loc` starts (for a key pydantic
    refused, `(…, key, "[key]")`, where the key is)."""
    key: yaml.Node | None = None
    for part in loc:
        if part == "[key]" and key is not None:
            return int(key.start_mark.line) + 1
        if isinstance(node, yaml.MappingNode):
            key, node = next(
                ((k, v) for k, v in node.value if getattr(k, "value", None) == part), (None, None)
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            break
        if node is None:
            return None
    return node.start_mark.line + 1 if node is not None else None


def yaml_problem(exc: yaml.YAMLError, text: str, where: str) -> Problem:
    """A YAML syntax error as one problem on one line, named by the line it is on: a character
    YAML does not allow (a NUL), a quote that is never closed, or what the parser says."""
    if isinstance(exc, yaml.reader.ReaderError):
        # Raised before any parsing: its place is an offset into the text.
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        return Problem(
            f"{where}:{line}",
            "",
            f"a control character, {describe_character(char)}, at column {column}: "
            "a YAML file may hold no control characters but tabs and line breaks",
        )
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return Problem(where, "", f"not valid YAML: {exc}")
    mark, opened = exc.problem_mark, exc.context_mark
    if (
        opened is not None
        and "quoted scalar" in (exc.context or "")
        and "end of stream" in (exc.problem or "")
    ):
        start = opened.line + 1
        return Problem(
            f"{where}:{start}",
            "",
            f"the quote opened on line {start} is never closed: it swallowed the rest of the file",
        )
    reason = f"{exc.problem} (column {mark.column + 1})"
    if exc.context and opened is not None:
        reason = f"{exc.context} on line {opened.line + 1}: {reason}"
    return Problem(f"{where}:{mark.line + 1}", "", f"not valid YAML: {reason}")


class DataLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date ('2024-13-01') becomes a validation
    problem with its line instead of an exception while reading."""


DataLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def read_documents(text: str) -> list[tuple[yaml.Node | None, Any]]:
    """Every document of a YAML text as its node (whose marks give the lines) and its data,
    from one parse (reading the text twice, once for each, cost twice the time)."""
    loader = DataLoader(text)
    try:
        found = []
        while loader.check_node():
            node = loader.get_node()
            found.append((node, loader.construct_document(node)))
        return found
    finally:
        loader.dispose()


def read_document(text: str) -> tuple[yaml.Node | None, Any]:
    """The one document of a YAML text, node and data, from one parse; (None, None) for an
    empty text. More than one document is a YAMLError, as yaml.load says."""
    loader = DataLoader(text)
    try:
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
