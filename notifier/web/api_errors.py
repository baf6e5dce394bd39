"""The admin API's one error shape, what each route documents of it, and the exception handlers
that give it: routes raise (NotFoundError, InputError, ConflictError, HTTPException, a
validation error) and never build an error response themselves.

Every refusal answers JSON: `message` says what was wrong in a line, and `detail` lists each
bad field as FastAPI lists validation errors (`loc`, `msg`, `type`), plus `field`, the dotted
name of the field (`title`, `updates.0.date`). `detail` is empty when no one field is at fault
(an unknown path, a missing token). The handlers serve the whole app: the public pages answer
their own refusals with HTML, and what reaches here from them (an unknown path, a wrong
method) gets this shape too."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from notifier.errors import ConflictError, ForbiddenError, InputError, NotFoundError, Problem

#: Where FastAPI says a field came from: the first item of a validation error's `loc`.
_SOURCES = {"body", "query", "path", "header", "cookie"}


class FieldProblem(BaseModel):
    """One bad field."""

    loc: list[str | int]
    field: str
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error the API answers."""

    message: str
    detail: list[FieldProblem]


_DOCUMENTED: dict[int, dict[str, Any]] = {
    400: {"description": "The body could not be read: it is not UTF-8 JSON text."},
    401: {
        "description": "No valid bearer token (or no `api_token` set).",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
    },
    403: {"description": "The token's role may not do this (or not on this list)."},
    404: {"description": "What the path or a parameter names does not exist."},
    409: {"description": "The request clashes with what the store holds now."},
    422: {"description": "Bad input: each problem with the field it is in."},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can answer these error codes."""
    return {code: {"model": ErrorOut, **_DOCUMENTED[code]} for code in codes}


def _answer(
    status: int,
    message: str,
    detail: Iterable[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = ErrorOut(message=message, detail=list(detail)).model_dump()
    # ASCII: a field name or message may quote input holding half a surrogate pair, which
    # UTF-8 cannot carry; JSON escapes can.
    return Response(
        json.dumps(body, ensure_ascii=True),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _field(loc: Sequence[str | int], kind: str) -> str:
    names = loc[1:] if loc and loc[0] in _SOURCES else loc
    if kind == "json_invalid" or not names:
        return str(loc[0]) if loc else ""
    return ".".join(str(n) for n in names)


def validation_problem(error: Mapping[str, Any]) -> FieldProblem:
    """A pydantic / FastAPI validation error as a FieldProblem."""
    loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
    kind = str(error.get("type", "value_error"))
    msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    reason = (error.get("ctx") or {}).get("error")
    if kind == "json_invalid" and isinstance(reason, str):
        msg = f"{msg}: {reason}"
    return FieldProblem(loc=loc, field=_field(loc, kind), msg=msg, type=kind)


def _store_problem(problem: Problem, kind: str) -> FieldProblem:
    loc: list[str | int] = list(problem.field.split(".")) if problem.field else []
    return FieldProblem(loc=loc, field=problem.field, msg=problem.reason, type=kind)


def _summary(problems: Sequence[FieldProblem]) -> str:
    return "; ".join(f"{p.field}: {p.msg}" if p.field else p.msg for p in problems)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [validation_problem(e) for e in exc.errors()]
    return _answer(422, _summary(problems) or "invalid request", problems)


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    problems = [_store_problem(p, "invalid") for p in exc.problems]
    return _answer(422, _summary(problems), problems)


async def _conflict(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConflictError)
    problems = [_store_problem(p, "conflict") for p in exc.problems]
    return _answer(409, _summary(problems), problems)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _answer(404, str(exc))


async def forbidden(request: Request, exc: Exception) -> Response:
    """403 in the API's one error shape (the console answers its own pages with a page)."""
    return _answer(403, str(exc))


#: The methods a 405 may name.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed(request: Request) -> str:
    """Every method the path answers to. (Starlette's 405 names those of the first route that
    matched the path, and /api/cases is two routes: GET and POST.)"""
    routes = request.app.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request)
    return _answer(exc.status_code, str(exc.detail), headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """Answer every refusal in the one shape. (Starlette finds a handler by the error's class,
    nearest first: ConflictError is an InputError, and gets its own.)"""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(InputError, _invalid_input)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ForbiddenError, forbidden)
    app.add_exception_handler(HTTPException, _http_error)
