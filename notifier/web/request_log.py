"""One log line per web request on the `notifier.web` logger: method, path, status and time,
as `GET /unsubscribe/… 200 3.1 ms`. A link's token is a key to someone's subscription, so the
path never shows one (everything after a token route's prefix becomes `…`), and the query
string is left out."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("notifier.web")
#: The name a route gives the path parameter that holds a link's token.
TOKEN = "{token}"
#: Longer paths are cut (a fuzzer's or a scanner's would fill the log).
LONGEST = 200


def token_prefixes(routes: Iterable[BaseRoute]) -> tuple[str, ...]:
    """'/unsubscribe/' for '/unsubscribe/{token}': what comes before a token in a path."""
    return tuple(
        sorted({r.path.split(TOKEN)[0] for r in routes if isinstance(r, Route) and TOKEN in r.path})
    )


def shown_path(scope: Scope, prefixes: tuple[str, ...]) -> str:
    """The path as sent (percent-escapes kept: no line break or control character can reach
    the log), with any token masked."""
    raw: bytes | None = scope.get("raw_path")
    path = raw.decode("ascii", "replace") if raw else str(scope.get("path", ""))
    path = path.split("?", 1)[0]
    for prefix in prefixes:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + "…"
    return path if len(path) <= LONGEST else path[:LONGEST] + "…"


class RequestLog:
    """ASGI middleware that logs each HTTP request once it is answered (or has failed)."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer says otherwise: an error raised through here

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            took = (time.perf_counter() - started) * 1000
            path = shown_path(scope, self.prefixes)
            log.info("%s %s %d %.1f ms", scope["method"], path, status, took)
