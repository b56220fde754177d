"""The specs of executions: run (also streamed), submit, read, list, cancel (see
:mod:`._specs`)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from prompt_ledger.sdk._specs import Spec, _model, _page, _query
from prompt_ledger.sdk._traces import current_traceparent
from prompt_ledger.sdk.options import ExecutionFilters, ModelChoice, RunOptions
from prompt_ledger.sdk.types import Execution, Page


def new_idempotency_key() -> str:
    return f"pl-sdk-{uuid.uuid4().hex}"


def execution(
    action: Literal["run", "submit"],
    prompt_name: str,
    variables: Mapping[str, Any] | None,
    options: RunOptions,
) -> Spec[Execution]:
    """The clients' run/submit: always with an Idempotency-Key (the caller's or a fresh one)."""
    keyed: RunOptions = {
        **options,
        "idempotency_key": options.get("idempotency_key") or new_idempotency_key(),
    }
    return run(action, prompt_name, variables, **keyed)


def run(
    action: str,
    prompt_name: str,
    variables: Mapping[str, Any] | None,
    *,
    model: ModelChoice | None = None,
    params: Mapping[str, Any] | None = None,
    environment: str | None = None,
    version: int | None = None,
    label: str | None = None,
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
    timeout: float | None = None,
) -> Spec[Execution]:
    """``executions:run`` or ``executions:submit``. Without an Idempotency-Key the request is
    never resent once it may have reached the server (a resend could run it twice); the
    clients always pass one (theirs or a fresh one), so their retries are safe."""
    body = {"prompt_name": prompt_name, "variables": dict(variables or {})} | _query(
        model=None if model is None else model_ref(model),
        params=None if params is None else dict(params),
        environment=environment,
        version=version,
        label=label,
        correlation_id=correlation_id,
    )
    # Inside ``ledger.traces.span(...)`` the execution joins the open span's trace.
    traceparent = traceparent or current_traceparent()
    headers = _query(**{"Idempotency-Key": idempotency_key, "traceparent": traceparent})
    return Spec(
        "POST",
        f"/v1/executions:{action}",
        _model(Execution),
        body=body,
        headers=headers,
        replay_safe=idempotency_key is not None,
        timeout=timeout,
    )


def model_ref(model: ModelChoice) -> dict[str, str]:
    if isinstance(model, str):
        provider, sep, model_name = model.partition("/")
        if not sep or not provider or not model_name:
            raise ValueError(f"model must be 'provider/model_name', got {model!r}")
        return {"provider": provider, "model_name": model_name}
    return dict(model)


def get_execution(execution_id: str) -> Spec[Execution]:
    return Spec("GET", "/v1/executions/" + quote(str(execution_id), safe=""), _model(Execution))


def list_executions(filters: ExecutionFilters) -> Spec[Page[Execution]]:
    return Spec("GET", "/v1/executions", _page(Execution), params=_query(**filters))


def cancel_execution(execution_id: str) -> Spec[Execution]:
    # Cancelling twice answers 409: not resent after a lost answer.
    return Spec(
        "POST",
        f"/v1/executions/{quote(str(execution_id), safe='')}:cancel",
        _model(Execution),
        replay_safe=False,
    )


def streamed(spec: Spec[Execution]) -> Spec[Execution]:
    """``spec`` (a run) asking for Server-Sent Events; read by the clients' streams."""
    return dataclasses.replace(
        spec,
        body={**spec.body, "stream": True},
        headers={**spec.headers, "Accept": "text/event-stream"},
    )
