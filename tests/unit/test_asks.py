"""The HTTP edge converts a validated request model into what a service takes
(``prompt_ledger.asks``): nothing is dropped on the way, and an Idempotency-Key's request hash is
the one the request body itself gave before the conversion (keys stored by an earlier release
still replay)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from prompt_ledger.asks import ExecutionFilter, ModelChoice, RunAsked, TraceFilter
from prompt_ledger.bodies import Body, CodePrompt, PutPromptBody, ResolveItem
from prompt_ledger.bodies_admin import KeyBody, ModelBody
from prompt_ledger.bodies_executions import ExecutionListQuery, RunBody
from prompt_ledger.bodies_traces import TraceListQuery
from prompt_ledger.json_types import BODY
from prompt_ledger.services.preparation import request_hash
from prompt_ledger.templates import ChatMessage

RENAMED = {"version": "version_number", "service": "service_name"}
"""A request's field by the ledger's name for it (the wire says ``version``)."""

RUNS: list[dict[str, Any]] = [
    {"prompt_name": "p"},
    {"prompt_name": "p", "params": {}},
    {"prompt_name": "p", "params": {"temperature": None}, "variables": {"a": None, "b": [1, None]}},
    {"prompt_name": "p", "environment": "staging", "version": 3, "correlation_id": "c"},
    {
        "prompt_name": "doc_summarizer",
        "variables": {"text": "hi", "n": 2, "nested": {"x": None, "y": 1.5}},
        "model": {"provider": "openai", "model_name": "gpt-4o-mini"},
        "params": {
            "stop": "END",
            "max_new_tokens": 64,
            "temperature": 1,
            "top_p": 0.5,
            "presence_penalty": -1,
            "frequency_penalty": 0.25,
            "seed": -7,
        },
        "label": "production",
        "idempotency_key": "k1",
        "stream": True,
    },
]


def body_hash(body: RunBody) -> str:
    """The request hash as it was computed from the body, before services took RunAsked."""
    data = body.model_dump(
        mode="json", exclude={"idempotency_key", "correlation_id", "stream"}, exclude_none=True
    )
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("data", RUNS)
def test_the_request_hash_is_the_bodys(data: dict[str, Any]) -> None:
    body = RunBody.model_validate(data, context=BODY)
    assert request_hash(body.asked()) == body_hash(body)


def test_the_request_hash_is_stable() -> None:
    """Pinned: a stored key's hash must not change with the code that computes it."""
    body = RunBody.model_validate(RUNS[-1], context=BODY)
    assert request_hash(body.asked()) == (
        "b1993ea9e6ce1c85993d041fc78ba2c7ff51a4f06167fd8ec0bb5dac5682bf89"
    )


def test_what_only_the_key_or_the_correlation_id_changes_hashes_the_same() -> None:
    one = RunBody.model_validate({"prompt_name": "p", "idempotency_key": "a"}).asked()
    other = RunBody.model_validate({"prompt_name": "p", "correlation_id": "c"}).asked()
    assert request_hash(one) == request_hash(other)
    assert request_hash(one) != request_hash(dataclasses.replace(one, params={}))


def test_a_run_carries_every_field_but_stream() -> None:
    body = RunBody.model_validate(RUNS[-1], context=BODY)
    assert body.asked() == RunAsked(
        prompt_name="doc_summarizer",
        variables={"text": "hi", "n": 2, "nested": {"x": None, "y": 1.5}},
        environment=None,
        model=ModelChoice("openai", "gpt-4o-mini"),
        params={
            "max_tokens": 64,  # the seeds' max_new_tokens, by its own name
            "temperature": 1.0,
            "top_p": 0.5,
            "stop": ["END"],
            "presence_penalty": -1.0,
            "frequency_penalty": 0.25,
            "seed": -7,
        },
        version_number=None,
        label="production",
        correlation_id=None,
        idempotency_key="k1",
    )
    wire = set(RunBody.model_fields) - {"stream"}
    assert {f.name for f in dataclasses.fields(RunAsked)} == {RENAMED.get(n, n) for n in wire}
    assert RunBody.model_validate({"prompt_name": "p"}).asked().params is None
    assert RunBody.model_validate({"prompt_name": "p", "params": {}}).asked().params == {}


@pytest.mark.parametrize(
    ("query", "asked"),
    [(ExecutionListQuery, ExecutionFilter), (TraceListQuery, TraceFilter)],
    ids=["executions", "traces"],
)
def test_a_list_query_passes_every_filter(query: type[Body], asked: type[Any]) -> None:
    """A filter added to the query reaches the service (or this fails)."""
    wire = set(query.model_fields)
    assert {f.name for f in dataclasses.fields(asked)} == {RENAMED.get(n, n) for n in wire}
    given = query.model_validate(
        {"limit": 7, "cursor": "abc", "prompt_name": "p", "since": "2026-01-31T12:00:00Z"}
        | ({"version": 3} if "version" in wire else {"service": "api"})
    )
    converted = given.asked()  # type: ignore[attr-defined]
    assert all(getattr(converted, RENAMED.get(n, n)) == getattr(given, n) for n in wire)
    assert (converted.limit, converted.cursor, converted.prompt_name) == (7, "abc", "p")
    renamed = "version_number" if "version" in wire else "service_name"
    assert getattr(converted, renamed) in {3, "api"}


def test_registry_writes() -> None:
    put = PutPromptBody.model_validate(
        {
            "messages": [{"role": "system", "content": "Be brief."}],
            "model_defaults": {"provider": "openai"},
            "description": "d",
            "owner_team": "t",
            "created_by": "me",
            "commit_message": "m",
            "set_active": False,
        }
    ).asked()
    assert put.messages == (ChatMessage("system", "Be brief."),)
    assert (put.template_source, put.model_defaults) == (None, {"provider": "openai"})
    assert (put.description, put.owner_team, put.created_by, put.commit_message) == (
        "d",
        "t",
        "me",
        "m",
    )
    assert put.set_active is False
    code = CodePrompt.model_validate({"name": "n", "template": "Hi {{x}}", "owner_team": "t"})
    assert code.asked().template_source == "Hi {{x}}"  # template is template_source's alias
    assert code.asked().messages is None
    ref = ResolveItem.model_validate({"name": "n", "label": "prod", "version": 2}).asked()
    assert (ref.name, ref.label, ref.version_number) == ("n", "prod", 2)


def test_admin_writes() -> None:
    key = KeyBody.model_validate(
        {"name": "ci", "scopes": ["execute", "execute"], "requests_per_minute": 0}
    ).asked()
    assert (key.name, {s.value for s in key.scopes}) == ("ci", {"execute"})
    assert (key.requests_per_minute, key.executions_per_minute) == (0, None)
    default = KeyBody.model_validate({"name": "ci"}).asked()
    assert {s.value for s in default.scopes} == {"prompts:read", "prompts:write", "execute"}
    spec = ModelBody.model_validate(
        {"max_tokens": 10, "supports_streaming": True, "input_price_per_mtok": 0.5}
    ).asked()
    assert (spec.max_tokens, spec.supports_streaming) == (10, True)
    assert (spec.input_price_per_mtok, spec.output_price_per_mtok) == (0.5, None)
