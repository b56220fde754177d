"""One URL reaches every function: the registry function forwards what the executions function
serves. The target here is a loopback server that shows what it received (headers, body) and
can stream, hang or be absent, so each promise of the forwarder is checked on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from prompt_ledger.container import Container
from prompt_ledger.functions import build, forwarder
from prompt_ledger.gateway import METHODS
from prompt_ledger.http.dispatch import HttpFunction
from prompt_ledger.settings import Settings
from tests.live_gateway import LiveServer, free_port_url


class Containers:
    """The container provider of the function under test. A forwarded request never needs it
    (``calls`` stays 0); a path nobody serves does (the 404 comes after CORS, which is the
    container's). Its database is never reached."""

    def __init__(self) -> None:
        self.calls = 0
        self._container: Container | None = None

    async def __call__(self) -> Container:
        self.calls += 1
        if self._container is None:
            unreachable = free_port_url().replace("http://", "postgresql://") + "/none"
            settings = Settings(_env_file=None, environment="test", database_url=unreachable)
            self._container = Container(settings)
        return self._container


CONTAINERS = Containers()


def asgi(function: HttpFunction) -> Starlette:
    async def endpoint(request: Request) -> Response:
        return await function(request)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        if function.forwarder is not None:  # its connections belong to this server's loop
            await function.forwarder.aclose()

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)], lifespan=lifespan)


class Target:
    """Stands in for the executions function: echoes, streams on cue, or never answers."""

    def __init__(self) -> None:
        self.second_event = threading.Event()

        async def echo(request: Request) -> Response:
            body = await request.body()
            return JSONResponse(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "headers": [[k, v] for k, v in request.headers.items()],
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "length": len(body),
                },
                status_code=201,
                headers={"Server-Timing": "app;dur=1.00", "Via": "1.1 edge", "X-Upstream": "yes"},
            )

        async def stream(request: Request) -> Response:
            async def events() -> AsyncIterator[bytes]:
                yield b"data: one\n\n"
                # The second event waits until the client has read the first: a buffering
                # forwarder would deadlock here.
                await asyncio.to_thread(self.second_event.wait, 30)
                yield b"data: two\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        async def hang(request: Request) -> Response:
            await asyncio.sleep(3)  # far past the forwarder's timeout in the test
            return Response("late")

        self.app = Starlette(
            routes=[
                Route("/v1/executions:run", echo, methods=["POST"]),
                Route("/v1/executions:submit", echo, methods=["POST"]),
                Route("/v1/executions/{execution_id}", stream, methods=["GET"]),
                Route("/v1/executions", hang, methods=["GET"]),
            ]
        )


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[Target, str]]:
    stand_in = Target()
    with LiveServer(stand_in.app) as server:
        yield stand_in, server.url


def registry(executions_url: str | None, **settings: Any) -> Iterator[str]:
    urls = {"executions": executions_url} if executions_url else {}
    config = Settings(_env_file=None, environment="test", function_urls=urls, **settings)
    function = build("registry", CONTAINERS, forwarder=forwarder("registry", config))
    with LiveServer(asgi(function)) as server:
        yield server.url


@pytest.fixture(scope="module")
def via_registry(target: tuple[Target, str]) -> Iterator[str]:
    yield from registry(target[1])


def test_a_request_for_another_function_is_forwarded_with_its_body_and_query(
    via_registry: str,
) -> None:
    payload = json.dumps({"blob": "x" * 300_000}).encode()
    opened = CONTAINERS.calls
    response = httpx.post(
        f"{via_registry}/v1/executions:run?trace=1",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "X-API-Key": "secret",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "must not pass",
        },
    )
    assert response.status_code == 201
    seen = response.json()
    assert (seen["method"], seen["path"]) == ("POST", "/v1/executions:run")
    assert seen["query"] == "trace=1"
    assert seen["length"] == len(payload)
    assert seen["sha256"] == hashlib.sha256(payload).hexdigest()
    headers = dict(seen["headers"])
    assert headers["x-api-key"] == "secret"  # end-to-end headers pass: the target authenticates
    assert "x-hop" not in headers  # named by Connection: hop-by-hop
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == via_registry.removeprefix("http://")
    assert headers["via"] == "1.1 registry"
    assert headers["x-promptledger-forwarded-by"] == "registry"
    assert headers["host"] != headers["x-forwarded-host"]  # the target's own host
    # The answer: the target's headers, one date/server (ours), the hop in Via and timing.
    assert response.headers["x-upstream"] == "yes"
    assert response.headers.get_list("date") == [response.headers["date"]]
    assert response.headers["via"] == "1.1 edge, 1.1 registry"
    timing = response.headers["server-timing"]
    assert timing.startswith('app;dur=1.00, forward;desc="registry to executions";dur=')
    assert response.headers["x-request-id"]
    assert CONTAINERS.calls == opened  # nothing was opened here for a forwarded request


def test_a_streamed_response_passes_event_by_event(
    target: tuple[Target, str], via_registry: str
) -> None:
    stand_in, _ = target
    stand_in.second_event.clear()
    with httpx.stream("GET", f"{via_registry}/v1/executions/123", timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "data: one"  # arrives while the target still holds the second
        stand_in.second_event.set()
        assert [line for line in lines if line] == ["data: two"]


def test_no_url_for_the_serving_function_names_it_and_its_variable() -> None:
    for url in registry(None):
        response = httpx.post(f"{url}/v1/executions:run", json={})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["function"] == "executions"
        assert problem["variable"] == "EXECUTIONS_URL"
        assert "served by the 'executions' function" in problem["detail"]
        assert "set EXECUTIONS_URL on this service" in problem["detail"]
        # Paths nobody serves keep the plain 404.
        unknown = httpx.get(f"{url}/v1/nothing-here").json()
        assert unknown["detail"] == "No endpoint GET /v1/nothing-here in function 'registry'."


def test_a_forwarded_request_is_never_forwarded_again(via_registry: str) -> None:
    response = httpx.post(
        f"{via_registry}/v1/executions:run",
        json={},
        headers={"X-PromptLedger-Forwarded-By": "executions"},
    )
    assert response.status_code == 508
    problem = response.json()
    assert problem["type"].endswith("/forward-loop")
    assert "check EXECUTIONS_URL there" in problem["detail"]


def test_the_serving_function_down_is_a_503_problem() -> None:
    for url in registry(free_port_url()):
        response = httpx.post(f"{url}/v1/executions:submit", json={})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        problem = response.json()
        assert problem["type"].endswith("/function-unavailable")
        assert "EXECUTIONS_URL is wrong" in problem["detail"]


def test_no_answer_in_time_is_a_504_problem(target: tuple[Target, str]) -> None:
    # The forward timeout is the provider timeout plus a margin.
    for url in registry(target[1], provider_timeout=0.2, forward_timeout_margin=0.1):
        response = httpx.get(f"{url}/v1/executions", timeout=30)
        assert response.status_code == 504
        assert response.json()["type"].endswith("/function-timeout")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://executions.railway.internal:8080", "http://executions.railway.internal:8080"),
        ("promptledger-executions:10000", "http://promptledger-executions:10000"),
        ("executions", "http://executions"),
        ("https://exec.example.com/", "https://exec.example.com"),
    ],
)
def test_function_urls_are_read_from_one_variable_per_function(
    given: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECUTIONS_URL", given)
    monkeypatch.setenv("REGISTRY_URL", "")
    settings = Settings(_env_file=None)
    assert settings.function_urls == {"executions": expected}


@pytest.mark.parametrize("given", ["ftp://host", "host:notaport", "http://", "http://h/?q=1"])
def test_a_malformed_function_url_is_refused_at_start_up(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXECUTIONS_URL", given)
    with pytest.raises(ValueError, match="EXECUTIONS_URL"):
        Settings(_env_file=None)
