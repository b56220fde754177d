"""Errors are typed and mapped from the problem+json status: at the transport (scripted
answers) and from the real server."""

from __future__ import annotations

import httpx
import pytest

from prompt_ledger import AsyncPromptLedger, PromptLedger
from prompt_ledger.sdk import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PromptLedgerAPIError,
    ProviderError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from prompt_ledger.sdk.errors import parse_retry_after
from tests.conftest import DEV_KEY
from tests.live_gateway import free_port_url
from tests.sdk.fakes import Script, problem

STATUSES: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (405, APIStatusError),
    (409, ConflictError),
    (413, APIStatusError),
    (422, ValidationError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
]


def sync_ledger(script: Script) -> PromptLedger:
    return PromptLedger("http://fake", "k", http_client=script.sync_client(), max_retries=0)


def async_ledger(script: Script) -> AsyncPromptLedger:
    return AsyncPromptLedger("http://fake", "k", http_client=script.async_client(), max_retries=0)


@pytest.mark.parametrize(("status", "error"), STATUSES)
def test_each_status_maps_to_its_error(status: int, error: type[APIStatusError]) -> None:
    script = Script([problem(status, "some-problem", required_scope="admin")])
    with sync_ledger(script) as ledger, pytest.raises(error) as raised:
        ledger.get_version("p", 1)
    exc = raised.value
    assert type(exc) is error
    assert isinstance(exc, PromptLedgerAPIError)
    assert exc.status == status
    assert exc.type == "https://promptledger.dev/problems/some-problem"
    assert exc.title == "Some-Problem"
    assert exc.detail == "nope"
    assert exc.body["required_scope"] == "admin"
    assert str(exc) == f"{status} Some-Problem: nope"


@pytest.mark.parametrize(("status", "error"), STATUSES)
async def test_each_status_maps_to_its_error_async(
    status: int, error: type[APIStatusError]
) -> None:
    script = Script([problem(status)])
    async with async_ledger(script) as ledger:
        with pytest.raises(error) as raised:
            await ledger.get_version("p", 1)
    assert type(raised.value) is error
    assert raised.value.status == status


def test_validation_errors_expose_the_field_list_and_missing_variables() -> None:
    errors = [{"loc": ["body", "variables", "name"], "msg": "required", "type": "missing"}]
    script = Script([problem(422, "missing-variables", errors=errors, missing=["name"])])
    with sync_ledger(script) as ledger, pytest.raises(ValidationError) as raised:
        ledger.execute("p", {})
    assert raised.value.errors == errors
    assert raised.value.missing == ["name"]


def test_a_provider_failure_names_the_recorded_execution() -> None:
    answer = problem(502, "provider-failed", execution_id="e-1", transient=True)
    script = Script([answer])
    with (
        PromptLedger("http://fake", "k", http_client=script.sync_client()) as ledger,
        pytest.raises(ProviderError) as raised,
    ):
        ledger.execute("p", {})
    assert isinstance(raised.value, ServerError)
    assert raised.value.execution_id == "e-1"
    assert raised.value.transient
    assert len(script.requests) == 1  # a resend would only replay the recorded failure


def test_an_error_page_that_is_not_json_keeps_its_text() -> None:
    page = httpx.Response(502, text="<html>Bad gateway</html>")
    with sync_ledger(Script([page])) as ledger, pytest.raises(ServerError) as raised:
        ledger.list_models()
    assert raised.value.status == 502
    assert raised.value.title == "Bad Gateway"
    assert raised.value.detail == "<html>Bad gateway</html>"


def test_an_answer_of_the_wrong_shape_is_an_api_error() -> None:
    script = Script([httpx.Response(200, text="not json")])
    with (
        sync_ledger(script) as ledger,
        pytest.raises(PromptLedgerAPIError, match="Unexpected answer") as raised,
    ):
        ledger.get_version("p", 1)
    assert raised.value.status == 200


def test_connection_refused_is_a_connection_error() -> None:
    with (
        PromptLedger(free_port_url(), "k", max_retries=0) as ledger,
        pytest.raises(APIConnectionError) as raised,
    ):
        ledger.list_models()
    assert not isinstance(raised.value, APITimeoutError)
    assert raised.value.status is None


def test_a_timeout_is_a_timeout_error() -> None:
    script = Script([httpx.ReadTimeout("slow")])
    with sync_ledger(script) as ledger, pytest.raises(APITimeoutError) as raised:
        ledger.list_models()
    assert isinstance(raised.value, APIConnectionError)


def test_no_api_key_is_refused_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPT_LEDGER_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="PROMPT_LEDGER_API_KEY"):
        PromptLedger("http://fake")
    with pytest.raises(ConfigurationError):
        AsyncPromptLedger("http://fake")


def test_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPT_LEDGER_URL", "http://ledger.internal:9000/")
    monkeypatch.setenv("PROMPT_LEDGER_API_KEY", "pl_secret")
    script = Script([httpx.Response(200, json={"items": [], "next_cursor": None})])
    with PromptLedger(http_client=script.sync_client()) as ledger:
        assert ledger.list_models().items == []
    sent = script.requests[0]
    assert str(sent.url) == "http://ledger.internal:9000/v1/models?limit=50"
    assert sent.headers["X-API-Key"] == "pl_secret"
    assert sent.headers["User-Agent"].startswith("prompt-ledger/")


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPT_LEDGER_URL", "http://env")
    monkeypatch.setenv("PROMPT_LEDGER_API_KEY", "env-key")
    script = Script([httpx.Response(200, json={"items": [], "next_cursor": None})])
    with PromptLedger("http://arg", "arg-key", http_client=script.sync_client()) as ledger:
        ledger.list_models()
    assert script.requests[0].url.host == "arg"
    assert script.requests[0].headers["X-API-Key"] == "arg-key"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


# --- from the real server ------------------------------------------------------------------


def test_the_server_errors_map_to_typed_exceptions(
    ledger: PromptLedger, raw: httpx.Client, live_url: str
) -> None:
    with pytest.raises(NotFoundError, match="Prompt 'ghost' not found"):
        ledger.get_prompt("ghost")

    ledger.create_prompt("greet", "Hello {{name}} from {{place}}")
    with pytest.raises(ValidationError) as invalid:
        ledger.execute("greet", {"name": "Ada"})
    assert invalid.value.missing == ["place"]
    assert invalid.value.type == "https://promptledger.dev/problems/missing-variables"

    ledger.register_code_prompts([("CODE", "fixed")])
    with pytest.raises(ConflictError, match="tracking mode"):
        ledger.update_prompt("CODE", "edited")

    with (
        PromptLedger(live_url, "pl_wrong", max_retries=0) as stranger,
        pytest.raises(AuthenticationError),
    ):
        stranger.list_models()

    project = raw.post("/v1/projects", json={"name": "readers"}).json()
    key = raw.post(
        f"/v1/projects/{project['project_id']}/keys",
        json={"name": "ro", "scopes": ["prompts:read"]},
    ).json()["key"]
    with PromptLedger(live_url, key) as reader, pytest.raises(PermissionDeniedError) as denied:
        reader.create_prompt("x", "y")
    assert denied.value.body["required_scope"] == "prompts:write"


async def test_the_server_errors_map_to_typed_exceptions_async(
    aledger: AsyncPromptLedger,
) -> None:
    with pytest.raises(NotFoundError):
        await aledger.get_prompt("ghost")
    await aledger.create_prompt("greet", "Hello {{name}}")
    with pytest.raises(ValidationError) as invalid:
        await aledger.render("greet", {})
    assert invalid.value.missing == ["name"]


def test_an_injected_client_carrying_a_key_needs_no_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMPT_LEDGER_URL", raising=False)
    monkeypatch.delenv("PROMPT_LEDGER_API_KEY", raising=False)
    script = Script([httpx.Response(200, json={"items": [], "next_cursor": None})])
    http = httpx.Client(
        transport=httpx.MockTransport(script),
        base_url="http://fake",
        headers={"X-API-Key": DEV_KEY},
    )
    with PromptLedger(http_client=http) as ledger:
        ledger.list_models()
    assert script.requests[0].headers["X-API-Key"] == DEV_KEY
    assert str(script.requests[0].url).startswith("http://fake/")


def test_misspelt_options_are_refused_before_sending() -> None:
    script = Script([httpx.Response(200, json={})])
    with sync_ledger(script) as ledger:
        with pytest.raises(TypeError, match="descripton"):
            ledger.create_prompt("p", "t", descripton="typo")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="modle"):
            ledger.execute("p", modle="openai/gpt-4o-mini")  # type: ignore[call-overload]
    assert script.requests == []
