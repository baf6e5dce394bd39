"""Text the admin API takes obeys notifier.plain_text: checked once for every route, before it
runs (path and query parameters are one line; strings anywhere in a JSON body may have line
breaks), and written into the OpenAPI schema as a `pattern` on every string it takes, so
clients and fuzzers know the rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from notifier.plain_text import LINE_PATTERN, TEXT_PATTERN, text_problem

Loc = tuple[str | int, ...]


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


def _error(loc: Loc, problem: str) -> dict[str, Any]:
    return {"type": "text_characters", "loc": loc, "msg": problem}


async def refuse_bad_text(request: Request) -> None:
    """A 422 naming each parameter or body field that holds what plain_text refuses."""
    errors = [
        _error(("path", name), problem)
        for name, value in request.path_params.items()
        if isinstance(value, str) and (problem := text_problem(value, one_line=True))
    ]
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        # Only what the route reads: a parameter it does not declare reaches nothing.
        declared = {field.alias for field in route.dependant.query_params}
        errors += [
            _error(("query", name), problem)
            for name, value in request.query_params.multi_items()
            if name in declared and (problem := text_problem(value, one_line=True))
        ]
        if route.body_field is not None and await request.body():
            try:
                body = await request.json()
            except ValueError:  # not JSON: the route's own validation says so
                body = None
            errors += [
                _error(loc, problem)
                for loc, value in _strings(body, ("body",))
                if (problem := text_problem(value))
            ]
    if errors:
        raise RequestValidationError(errors)


def _add_pattern(
    schema: dict[str, Any], pattern: str, components: dict[str, Any], seen: set[str]
) -> None:
    """Give every plain string in `schema` (following $refs into `components`, each once) the
    pattern."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in components and name not in seen:
            seen.add(name)
            _add_pattern(components[name], pattern, components, seen)
        return
    plain = not {"pattern", "format", "enum", "const"} & schema.keys()
    if schema.get("type") == "string" and plain:
        schema["pattern"] = pattern
    subschemas = [
        *schema.get("properties", {}).values(),
        *schema.get("anyOf", []),
        *schema.get("oneOf", []),
        *schema.get("allOf", []),
        *[schema[k] for k in ("items", "additionalProperties") if isinstance(schema.get(k), dict)],
    ]
    for sub in subschemas:
        _add_pattern(sub, pattern, components, seen)


def document_text_rules(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema with plain_text's rules as patterns on what requests carry
    (in place; twice changes nothing more)."""
    components = openapi.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("path", "query"):
                    _add_pattern(parameter.get("schema", {}), LINE_PATTERN, components, seen)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _add_pattern(content.get("schema", {}), TEXT_PATTERN, components, seen)
    return openapi
