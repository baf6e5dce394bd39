"""HTML pages from templates/web/, through the same sandboxed, autoescaping environment."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2.sandbox import SandboxedEnvironment

from notifier.config import Settings
from notifier.render.templates import make_environment, render

#: Pages say who sent them nowhere (no referrer leaks the token in their URL), are not kept in
#: caches, run no script, post forms only here, cannot be framed by another site, and are not
#: indexed by search engines (a network serving people in hostile countries is not advertised).
HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


#: The console's pages may also run the console's own scripts (served from /admin, never
#: inline) and ask the console for a fragment: the live preview of an update.
CONSOLE_HEADERS = HEADERS | {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


def page_environment(settings: Settings) -> SandboxedEnvironment:
    """The environment pages render in: every page knows the network's name (its title) and
    the public address its links start with."""
    env = make_environment(settings.templates_dir)
    env.globals["network_name"] = settings.network_name
    env.globals["public_url"] = settings.public_url
    return env


def page(
    env: SandboxedEnvironment,
    name: str,
    status: int = 200,
    *,
    headers: dict[str, str] = HEADERS,
    **context: Any,
) -> HTMLResponse:
    return HTMLResponse(
        render(env, f"web/{name}.html", context), status_code=status, headers=headers
    )
