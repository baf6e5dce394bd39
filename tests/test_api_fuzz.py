"""schemathesis against /openapi.json of a live server: whatever it generates, valid or not,
the admin API answers without a 5xx."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import openapi
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from notifier.config import Settings
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.store.cases import import_cases
from notifier.store.engine import open_store
from notifier.web.app import create_app

TOKEN = "fuzz-token"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on a real port, in a thread with its own loop and store."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    config = Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite+aiosqlite:///{tmp / 'n.db'}",
        api_token=SecretStr(TOKEN),
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ready = threading.Event()
    stop: list[uvicorn.Server] = []

    def run() -> None:
        async def go() -> None:
            async with open_store(config) as store:
                async with store.transaction() as session:
                    await import_cases(session, load_case_files(sample_case_files()))
                server = uvicorn.Server(
                    uvicorn.Config(
                        create_app(config, store),
                        host="127.0.0.1",
                        port=port,
                        log_level="critical",
                        lifespan="off",
                    )
                )
                stop.append(server)
                task = asyncio.create_task(server.serve())
                while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
                    await asyncio.sleep(0.02)
                ready.set()
                await task

        asyncio.run(go())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(20), "the server did not start"
    yield f"http://127.0.0.1:{port}"
    stop[0].should_exit = True
    thread.join(10)


def test_no_input_makes_a_server_error(live_api: str) -> None:
    schema = openapi.from_url(f"{live_api}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation in our schema is valid
        operations.append(result.ok())
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error]
            )

        call()
