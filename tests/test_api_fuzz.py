"""schemathesis against /openapi.json of a live server on SQLite and on PostgreSQL, with all its
checks in all its phases (tests/schemathesis.toml): no input gets a 5xx, an answer the schema
does not document, a body that does not fit its schema, or a request the schema refuses
accepted."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from notifier.config import Settings
from notifier.ingest.case_files import load_case_files, sample_case_files
from notifier.ingest.list_files import load_list_files
from notifier.store.cases import import_cases
from notifier.store.engine import open_store
from notifier.store.lists import apply_lists
from tests.helpers import EXAMPLE_LISTS, TOKEN
from tests.live_server import free_port, live_app

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture
def live_api(settings: Settings) -> Iterator[str]:
    config = settings.model_copy(update={"api_token": SecretStr(TOKEN), "web_port": free_port()})

    async def seed() -> None:
        async with open_store(config, create=True) as store, store.transaction() as session:
            await import_cases(session, load_case_files(sample_case_files()))
            await apply_lists(session, load_list_files([EXAMPLE_LISTS]), config)

    asyncio.run(seed())
    with live_app(config) as url:
        yield url


@pytest.mark.timeout(1200)  # ~1,500 requests; minutes when other jobs hold the cores
def test_schemathesis_finds_nothing(live_api: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
            "run", f"{live_api}/openapi.json", "--checks", "all",
            "--header", f"Authorization: Bearer {TOKEN}",
        ],
        cwd=tmp_path,  # its cache and reports stay out of the repository
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-30_000:] + run.stderr[-5_000:]
    schema = httpx.get(f"{live_api}/openapi.json").json()
    operations = sum(len(methods) for methods in schema["paths"].values())
    assert f"Tested: {operations}" in run.stdout, run.stdout[-5_000:]
