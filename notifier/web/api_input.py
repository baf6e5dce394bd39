"""What the admin API takes, checked once for every route before the route runs:

- text obeys notifier.plain_text: path and query parameters are one line, strings anywhere in
  a JSON body may have line breaks;
- a JSON body is what the OpenAPI schema says it is. FastAPI validates the parsed body as
  Python objects, and pydantic's lax mode there takes 0 for false, "7" for 7 and 0 for
  1 January 1970; here the body is also validated as JSON, strictly, as JSON Schema reads it
  (where 7.0 is an integer, as it is to JSON Schema).

The text rules are written into the OpenAPI schema too, as a `pattern` on every string a
request carries, so that clients and fuzzers know them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from notifier.plain_text import LINE_PATTERN, TEXT_PATTERN, text_problem

Loc = tuple[str | int, ...]


def _one_line(value: str) -> str:
    if problem := text_problem(value, one_line=True):
        raise PydanticCustomError("text_characters", problem)
    return value


#: A body field that is one line (a name: it goes into an email's greeting and To: header).
OneLine = Annotated[
    str, AfterValidator(_one_line), Field(json_schema_extra={"pattern": LINE_PATTERN})
]


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


def _whole_numbers(value: Any) -> Any:
    """`value` with each float that is a whole number as an int: JSON Schema's integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _error(loc: Loc, problem: str) -> dict[str, Any]:
    return {"type": "text_characters", "loc": loc, "msg": problem}


@cache
def _json_validator(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


async def _body_errors(request: Request, route: APIRoute) -> list[dict[str, Any]]:
    if route.body_field is None or not await request.body():
        return []
    try:
        parsed = await request.json()
    except ValueError:  # not JSON: the route's own validation says so
        return []
    errors = [
        _error(loc, problem)
        for loc, value in _strings(parsed, ("body",))
        if (problem := text_problem(value))
    ]
    try:
        model: Any = route.body_field.field_info.annotation
        _json_validator(model).validate_json(json.dumps(_whole_numbers(parsed)), strict=True)
    except ValidationError as exc:
        errors += [
            {**e, "loc": ("body", *e["loc"])}
            for e in exc.errors()
            # Python's parser took the body; pydantic's refuses half a surrogate pair, which
            # the text check names with its field.
            if e["type"] != "json_invalid"
        ]
    return errors


async def check_input(request: Request) -> None:
    """A 422 naming each parameter or body field that breaks the rules above."""
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
        errors += await _body_errors(request, route)
    if errors:
        # One problem per field: a NUL in a name is not also "not one line".
        by_field: dict[Loc, dict[str, Any]] = {}
        for error in errors:
            by_field.setdefault(tuple(error["loc"]), error)
        raise RequestValidationError(list(by_field.values()))


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
