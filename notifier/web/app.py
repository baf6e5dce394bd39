"""Build the FastAPI app and serve it (alone, or beside the service)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from notifier import __version__
from notifier.channels.base import Sender
from notifier.config import Settings
from notifier.errors import NotifierError
from notifier.links import Links
from notifier.store.engine import Store
from notifier.web import (
    api,
    console,
    digest_copy,
    health,
    home,
    preferences,
    subscribe,
    unsubscribe,
)
from notifier.web.api_errors import add_error_handlers
from notifier.web.api_input import document_text_rules
from notifier.web.pages import page_environment
from notifier.web.request_log import RequestLog, token_prefixes
from notifier.web.state import WebState

#: Every page and the API, in the order their routes are tried.
ROUTERS = (
    home.router,
    unsubscribe.router,
    preferences.router,
    subscribe.router,
    digest_copy.router,
    health.router,
    *console.ROUTERS,
    api.router,
)


def create_app(
    settings: Settings,
    store: Store,
    *,
    scheduler_alive: Callable[[], bool] | None = None,
    email_sender: Callable[[], Sender] | None = None,
) -> FastAPI:
    """The web app. `email_sender` makes the installation's email sender (notifier.senders'
    `email_sender` for these settings), for the console's test sends; None: no test sends."""
    app = FastAPI(title="notifier", version=__version__, docs_url=None, redoc_url=None)
    app.state.notifier = WebState(
        settings=settings,
        store=store,
        links=Links.from_settings(settings),
        env=page_environment(settings),
        scheduler_alive=scheduler_alive,
        email_sender=email_sender,
    )
    for router in ROUTERS:
        app.include_router(router)
    add_error_handlers(app)
    console.add_console_handlers(app)
    prefixes = token_prefixes(route for router in ROUTERS for route in router.routes)
    app.add_middleware(RequestLog, prefixes=prefixes)
    openapi = app.openapi

    def documented() -> dict[str, Any]:
        return document_text_rules(openapi())

    app.openapi = documented  # type: ignore[method-assign]  # FastAPI's way to extend it
    return app


class WebUnavailable(NotifierError):
    """The web app could not start listening (the port is taken, or not allowed)."""


async def serve(app: FastAPI, settings: Settings, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then finish the requests under way. WebUnavailable if it
    cannot listen at all."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.web_host,
            port=settings.web_port,
            log_level="warning",
            access_log=False,  # notifier.web.request_log logs each request, tokens masked
            lifespan="off",
            proxy_headers=True,
        )
    )

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind
            raise WebUnavailable(
                f"the web app cannot listen on {settings.web_host}:{settings.web_port} "
                "(is another program using that port? set web_port)"
            ) from None

    task = asyncio.create_task(run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await task
