"""schemathesis against /openapi.json of a live server: whatever it generates, valid or not,
the admin API answers without a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import openapi
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from notifier.config import Settings
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.store.cases import import_cases
from notifier.store.engine import open_store
from tests.live_server import free_port, live_app

TOKEN = "fuzz-token"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    config = Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite+aiosqlite:///{tmp / 'n.db'}",
        api_token=SecretStr(TOKEN),
        web_port=free_port(),
    )

    async def seed() -> None:
        async with open_store(config, create=True) as store, store.transaction() as session:
            await import_cases(session, load_case_files(sample_case_files()))

    asyncio.run(seed())
    with live_app(config) as url:
        yield url


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
