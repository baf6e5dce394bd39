"""HTML pages from templates/web/, through the same sandboxed, autoescaping environment."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2.sandbox import SandboxedEnvironment

from notifier.render.templates import render

#: Pages say who sent them nowhere (no referrer leaks the token in their URL), are not kept in
#: caches, run no script, post forms only here, and cannot be framed by another site.
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def page(env: SandboxedEnvironment, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        render(env, f"web/{name}.html", context), status_code=status, headers=HEADERS
    )
