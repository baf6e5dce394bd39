"""The admin console under /admin: server-rendered pages over notifier.app, for owners,
editors and list coordinators, each page's permission checked on the server."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from notifier.errors import ForbiddenError
from notifier.web.api_errors import forbidden
from notifier.web.console import (
    account,
    audit,
    cases,
    dashboard,
    home,
    lists,
    login,
    outbox,
    subscribers,
    tokens,
    updates,
    users,
)
from notifier.web.console.access import (
    BadFormToken,
    NotAllowed,
    SecondStepNeeded,
    SignInNeeded,
    console_page,
    see_other,
    session_of,
    sign_in_address,
)

#: The console's routes, in the order they are tried.
ROUTERS = (
    home.router,
    login.router,
    account.router,
    dashboard.router,
    tokens.router,
    users.router,
    audit.router,
    cases.router,
    updates.router,
    subscribers.router,
    outbox.router,
    lists.router,
)


def add_console_handlers(app: FastAPI) -> None:
    """Turn the console's refusals into pages: sign in first, finish signing in, or 403."""

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        return see_other(sign_in_address(exc.next_path if request.method == "GET" else "/admin"))

    async def second_step(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, SecondStepNeeded)
        return see_other(exc.where)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        reason = exc.what if isinstance(exc, NotAllowed) else str(exc)
        if not request.url.path.startswith("/admin"):  # the API's refusals stay JSON
            return await forbidden(request, exc)
        return console_page(
            request, await session_of(request), "forbidden", status=403, reason=reason
        )

    async def bad_form(request: Request, _: Exception) -> Response:
        return console_page(
            request,
            await session_of(request),
            "stale_form",
            status=403,
            reason="The form was from an old page or another site, so nothing was changed. "
            "Go back, reload the page and send it again.",
        )

    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(SecondStepNeeded, second_step)
    app.add_exception_handler(NotAllowed, not_allowed)
    app.add_exception_handler(ForbiddenError, not_allowed)
    app.add_exception_handler(BadFormToken, bad_form)


__all__ = ["ROUTERS", "add_console_handlers"]
