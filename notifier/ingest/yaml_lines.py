"""Where in a YAML file a value sits, so errors can name the line."""

from __future__ import annotations

import yaml


def yaml_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line in the YAML file where the value at `loc` starts."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            break
        if node is None:
            return None
    return node.start_mark.line + 1 if node is not None else None


class DataLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date ('2024-13-01') becomes a validation
    problem with its line instead of an exception while reading."""


DataLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)
