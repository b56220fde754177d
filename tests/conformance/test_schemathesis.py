"""Every function of the catalogue conforms to the OpenAPI document it serves: schemathesis
(``--checks all``: every check, with its examples, coverage, fuzzing and stateful phases)
against the function served alone, as its own deploy would be, with the instance operator's key.

A function added to ``prompt_ledger.functions.FUNCTIONS`` is covered without a change here.
What no JSON Schema can state is configured, with reasons, in ``schemathesis.toml`` beside
this file. To explore beyond the fixed seed: ``PL_CONFORMANCE_SEED=7 pytest tests/conformance``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.functions import FUNCTIONS
from prompt_ledger.gateway import create_gateway
from tests.live_gateway import DEV_KEY, LiveServer, demo_settings

HERE = Path(__file__).parent
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = 10  # per operation and phase; five functions take about 3 minutes in all on 2 cores
BUDGET = 900  # seconds: a run that hangs fails instead of stalling CI
PENDING: list[str] = []
"""Checks left out (none: every check runs)."""


async def _prepare(database_url: str) -> None:
    """The curated model catalogue and one prompt, so generated runs can reach the provider."""
    container = Container(demo_settings(database_url))
    await container.open()
    try:
        await container.catalog.seed()
    finally:
        await container.aclose()


def schemathesis_run(url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        *(["--exclude-checks", ",".join(PENDING)] if PENDING else []),
        "--header",
        f"X-API-Key: {DEV_KEY}",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        os.environ.get("PL_CONFORMANCE_SEED", "1"),
        "--workers",
        "1",
        "--request-timeout",
        "30",
    ]
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=BUDGET, check=False
    )


@pytest.mark.timeout(BUDGET + 120)  # schemathesis's own budget, then the server's start and stop
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_function_does_what_its_openapi_document_says(
    function: str, database_url: str, tmp_path: Path
) -> None:
    asyncio.run(_prepare(database_url))
    app = create_gateway(settings=demo_settings(database_url), functions=[function])
    # uvicorn answers a request head over h11's 64 KiB itself (a plain 400, before any app;
    # httptools, its default when installed, has a limit of its own): h11, with the limit
    # raised, so that generated huge query strings reach, and test, the function.
    with LiveServer(app, http="h11", h11_max_incomplete_event_size=8 * 1024 * 1024) as server:
        document = httpx.get(f"{server.url}/openapi.json").json()
        result = schemathesis_run(server.url, tmp_path)
    report = result.stdout[-20_000:] + result.stderr[-5_000:]
    assert result.returncode == 0, report
    # every documented operation was selected (schemathesis leaves out the document's own path)
    operations = sum(len(methods) for methods in document["paths"].values())
    expected = operations - 1
    assert f"Operations:       {expected} selected / {expected} total" in result.stdout, report
