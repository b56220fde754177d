"""Request preparation for executions: resolve the version and model, render the template,
merge the parameters, and shape the rows and views an execution is written and answered with."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prompt_ledger import templates
from prompt_ledger.asks import RunAsked
from prompt_ledger.auth import Principal
from prompt_ledger.cache import GroupCache
from prompt_ledger.db.store import Queries
from prompt_ledger.errors import Conflict, NotFound, ValidationFailed
from prompt_ledger.providers.base import CompletionRequest
from prompt_ledger.providers.catalog import Providers
from prompt_ledger.records import Model, Prompt, Version
from prompt_ledger.services.outcomes import Trace
from prompt_ledger.services.registry import content_of
from prompt_ledger.services.registry.base import group
from prompt_ledger.settings import Settings
from prompt_ledger.views import ExecutionDetail

GENERATION_KEYS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
)


@dataclass(frozen=True, slots=True)
class Prepared:
    prompt: Prompt
    version: Version
    model: Model
    served_by: str
    resolved_by: str
    rendered: templates.Rendered
    params: dict[str, Any]

    def completion_request(self) -> CompletionRequest:
        return completion_request(self.model.model_name, self.rendered, self.params)


ResolveKey = tuple[str | None, int | None, str | None, str | None, str | None]
"""label, version number, environment, and the provider and model the request names."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What an execution request resolves to, before the call: as cached per process."""

    prompt: Prompt
    version: Version
    provider: str
    model_name: str
    model: Model | None  # None: not in the catalogue (refused with 422)
    resolved_by: str


ResolveCache = GroupCache[str, ResolveKey, Resolved]
"""Resolutions by prompt group (``project:name``), following the prompt cache: a registry write
of the prompt evicts its group, a model or price write clears it all (``services/catalog.py``),
in every process through LISTEN/NOTIFY and at once in the writing one."""


async def prepare(
    q: Queries,
    providers: Providers,
    settings: Settings,
    who: Principal,
    asked: RunAsked,
    *,
    cache: ResolveCache | None,
) -> Prepared:
    """Everything an execution needs before its row is written; refuses (404/409/422) before
    any token is spent. ``q``: the connection the execution is then written on (no query is
    made on it when the resolution is cached)."""
    resolved = await resolve(q, cache, settings, who, asked)
    version, model = resolved.version, resolved.model
    served_by = providers.serving(resolved.provider)  # unknown/unconfigured: 422 first
    if model is None:
        raise ValidationFailed(
            f"Unknown model {resolved.provider}/{resolved.model_name}: register it with PUT "
            f"/v1/models/{resolved.provider}/{resolved.model_name} (or run `promptledger "
            "seed-models`).",
            errors=[{"loc": ["body", "model"], "msg": "unknown model", "type": "model"}],
        )
    params = merge_params(version.model_defaults.get("params"), asked)
    if model.max_tokens and params.get("max_tokens", 0) > model.max_tokens:
        raise ValidationFailed(
            f"max_tokens {params['max_tokens']} exceeds {model.model_name}'s limit of "
            f"{model.max_tokens}.",
            errors=[
                {
                    "loc": ["body", "params", "max_tokens"],
                    "msg": "above the model limit",
                    "type": "limit",
                }
            ],
        )
    rendered = await templates.render_off_loop(
        content_of(version),
        asked.variables,
        version.variables,
        seconds=settings.template_render_seconds,
    )
    return Prepared(
        resolved.prompt, version, model, served_by, resolved.resolved_by, rendered, params
    )


async def resolve(
    q: Queries, cache: ResolveCache | None, settings: Settings, who: Principal, asked: RunAsked
) -> Resolved:
    """The prompt, version and model a request runs (from the cache when it holds them)."""
    provider, model_name = None, None
    if asked.model is not None:
        provider, model_name = asked.model.provider, asked.model.model_name
    key: ResolveKey = (asked.label, asked.version_number, asked.environment, provider, model_name)
    name = group(who, asked.prompt_name)
    if cache is not None and (cached := cache.get(name, key)) is not None:
        return cached
    generation = cache.generation(name) if cache is not None else 0
    row = await q.row(
        "resolve_for_execution",
        project_id=who.project_id,
        name=asked.prompt_name,
        label=asked.label,
        version_number=asked.version_number,
        environment=asked.environment,
        provider=provider,
        model_name=model_name,
    )
    if row is None:
        raise NotFound(f"Prompt '{asked.prompt_name}' not found.")
    if row["version"] is None:
        if asked.version_number is not None or asked.label is not None:
            what = (
                f"version {asked.version_number}"
                if asked.version_number
                else f"label '{asked.label}'"
            )
            raise NotFound(f"Prompt '{asked.prompt_name}' has no {what}.")
        raise Conflict(f"Prompt '{asked.prompt_name}' has no active version.")
    version = Version.model_validate(row["version"])
    if version.status == "archived":
        raise Conflict(
            f"Version {version.version_number} of '{asked.prompt_name}' is "
            "archived and cannot be executed."
        )
    if asked.model is None:
        defaults = version.model_defaults
        provider = str(defaults.get("provider") or settings.default_provider)
        model_name = str(defaults.get("model_name") or settings.default_model)
        model_row = await q.row("get_model", provider=provider, model_name=model_name)
    else:
        model_row = row["model"]
    resolved = Resolved(
        Prompt.model_validate(row["prompt"]),
        version,
        str(provider),
        str(model_name),
        None if model_row is None else Model.model_validate(model_row),
        row["resolved_by"],
    )
    if cache is not None and resolved.model is not None:
        cache.put(name, key, resolved, generation)
    return resolved


def insert_params(
    execution_id: UUID,
    who: Principal,
    asked: RunAsked,
    prepared: Prepared,
    *,
    mode: str,
    status: str,
    attempts: int,
    key: str | None,
    request_hash: str | None,
    correlation_id: str | None,
    trace: Trace,
    worker: str,
) -> dict[str, Any]:
    """The parameters of ``insert_execution`` (and ``submit_execution``, which needs fewer)."""
    model = prepared.model
    return {
        "execution_id": execution_id,
        "project_id": who.project_id,
        "prompt_id": prepared.prompt.prompt_id,
        "version_id": prepared.version.version_id,
        "model_id": model.model_id,
        "execution_mode": mode,
        "status": status,
        "environment": asked.environment,
        "resolved_by": prepared.resolved_by,
        "served_by": prepared.served_by,
        "rendered_prompt": prepared.rendered.as_text(),
        "input_price_per_mtok": model.input_price_per_mtok,
        "output_price_per_mtok": model.output_price_per_mtok,
        "attempts": attempts,
        "correlation_id": correlation_id or asked.correlation_id,
        "idempotency_key": key,
        "request_hash": request_hash,
        "trace_id": trace.trace_id,
        "variables": asked.variables,
        "model_config": {"provider": model.provider, "model_name": model.model_name},
        "params": prepared.params,
        "worker": worker,
    }


def view(row: dict[str, Any], prepared: Prepared, asked: RunAsked) -> ExecutionDetail:
    """The execution as just written (with its spans once finished), without reading it back."""
    return ExecutionDetail.model_validate(
        {
            **row,
            "prompt_name": prepared.prompt.name,
            "version_number": prepared.version.version_number,
            "provider": prepared.model.provider,
            "model_name": prepared.model.model_name,
            "variables": asked.variables,
            "model_config": {
                "provider": prepared.model.provider,
                "model_name": prepared.model.model_name,
            },
            "params": prepared.params,
        }
    )


def request_hash(asked: RunAsked) -> str:
    """What a replay of an Idempotency-Key compares: the request without its key and
    correlation id, as JSON by the API's field names, unset ones left out (the digest the
    request body itself gave before: a key stored by an earlier release still replays)."""
    data: dict[str, Any] = {"prompt_name": asked.prompt_name, "variables": asked.variables}
    if asked.environment is not None:
        data["environment"] = asked.environment
    if asked.model is not None:
        data["model"] = {"provider": asked.model.provider, "model_name": asked.model.model_name}
    if asked.params is not None:
        data["params"] = asked.params
    if asked.version_number is not None:
        data["version"] = asked.version_number
    if asked.label is not None:
        data["label"] = asked.label
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def merge_params(defaults: Any, asked: RunAsked) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if isinstance(defaults, dict):
        merged.update({k: v for k, v in defaults.items() if k in GENERATION_KEYS})
        if "max_new_tokens" in defaults and "max_tokens" not in merged:
            merged["max_tokens"] = defaults["max_new_tokens"]
    if asked.params is not None:
        merged.update(asked.params)
    return merged


def completion_request(
    model_name: str, rendered: templates.Rendered, params: dict[str, Any]
) -> CompletionRequest:
    messages = (
        rendered.messages
        if rendered.messages is not None
        else [{"role": "user", "content": rendered.text or ""}]
    )
    extra: dict[str, Any] = {
        k: params[k] for k in ("presence_penalty", "frequency_penalty", "seed") if k in params
    }
    return CompletionRequest(
        model=model_name,
        messages=messages,
        max_tokens=params.get("max_tokens"),
        temperature=params.get("temperature"),
        top_p=params.get("top_p"),
        stop=params.get("stop"),
        extra=extra,
    )
