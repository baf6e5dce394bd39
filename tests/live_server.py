"""The real web app on a real port, in a thread with its own event loop and store: for tools
that must talk HTTP to a server (a browser, schemathesis)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from notifier.config import Settings
from notifier.store.engine import open_store
from notifier.web.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_app(settings: Settings) -> Iterator[str]:
    """Serve the app for `settings` (which must name its `web_port`); yields the base URL."""
    ready = threading.Event()
    servers: list[uvicorn.Server] = []

    def run() -> None:
        async def go() -> None:
            async with open_store(settings) as store:
                server = uvicorn.Server(
                    uvicorn.Config(
                        create_app(settings, store),
                        host="127.0.0.1",
                        port=settings.web_port,
                        log_level="critical",
                        lifespan="off",
                    )
                )
                servers.append(server)
                task = asyncio.create_task(server.serve())
                while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                    await asyncio.sleep(0.02)
                ready.set()
                await task

        asyncio.run(go())

    thread = threading.Thread(target=run, daemon=True, name="live-app")
    thread.start()
    if not ready.wait(20):
        raise RuntimeError("the web app did not start")
    try:
        yield f"http://127.0.0.1:{settings.web_port}"
    finally:
        servers[0].should_exit = True
        thread.join(10)
