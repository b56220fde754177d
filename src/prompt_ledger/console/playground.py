"""A prompt's playground: a form for its variables, a render preview, and a run."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from prompt_ledger.auth import Scope
from prompt_ledger.bodies import Body, VersionNumber
from prompt_ledger.bodies_executions import RunBody
from prompt_ledger.console.web import Visit, endpoint, form_as, is_htmx, page
from prompt_ledger.errors import ValidationFailed
from prompt_ledger.handlers.common import prompt_name
from prompt_ledger.http.endpoint import Reply
from prompt_ledger.services.outcomes import Trace

VAR = "var."  # form fields of template variables are named var.<variable>


class PlayForm(Body):
    version: VersionNumber
    model: str | None = Field(default=None, max_length=151, description="provider/model_name")
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    json_values: bool = False


def _play_form(visit: Visit) -> PlayForm:
    fields = {k: v for k in PlayForm.model_fields if (v := visit.value(k))}
    if "json_values" in fields:
        fields["json_values"] = "true"
    return form_as(PlayForm, fields)


def _variables(visit: Visit, json_values: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in visit.form.multi_items():
        if not key.startswith(VAR):
            continue
        name = key.removeprefix(VAR)
        if not json_values:
            values[name] = raw
            continue
        try:
            values[name] = json.loads(raw)
        except ValueError:
            raise ValidationFailed(
                f"Variable '{name}' is not valid JSON (untick 'JSON values' to send text).",
                errors=[{"loc": ["form", key], "msg": "invalid JSON", "type": "json"}],
            ) from None
    return values


async def _page(visit: Visit, version: int | None, **result: Any) -> Reply:
    name, app = prompt_name(visit.call), visit.call.app
    prompt = await app.registry.get_prompt(visit.principal, name, version_number=version)
    catalogue = (await app.catalog.list(provider=None, limit=200, cursor=None)).items
    models = [f"{m.provider}/{m.model_name}" for m in catalogue]
    defaults = prompt.version.model_defaults if prompt.version else {}
    chosen = visit.value("model") or "{}/{}".format(
        defaults.get("provider") or app.settings.default_provider,
        defaults.get("model_name") or app.settings.default_model,
    )
    template = "playground_result.html" if result and is_htmx(visit.request) else "playground.html"
    return visit.page(template, prompt=prompt, models=models, chosen=chosen, **result)


@page(Scope.PROMPTS_READ)
async def playground(visit: Visit) -> Reply:
    version = visit.request.query_params.get("version", "")
    return await _page(visit, int(version) if version.isdigit() and len(version) < 10 else None)


@page(Scope.PROMPTS_READ)
async def render(visit: Visit) -> Reply:
    form = _play_form(visit)
    _, rendered = await visit.call.app.registry.render(
        visit.principal,
        prompt_name(visit.call),
        _variables(visit, form.json_values),
        label=None,
        version_number=form.version,
    )
    return await _page(visit, form.version, rendered=rendered)


@page(Scope.EXECUTE)
async def run(visit: Visit) -> Reply:
    form = _play_form(visit)
    provider, _, model_name = (form.model or "").partition("/")
    body = form_as(
        RunBody,
        {
            "prompt_name": prompt_name(visit.call),
            "version": form.version,
            "variables": _variables(visit, form.json_values),
            "model": {"provider": provider, "model_name": model_name} if model_name else None,
            "params": {"temperature": form.temperature, "max_tokens": form.max_tokens},
        },
    )
    outcome = await visit.call.app.executions.run(
        visit.principal,
        body.asked(),
        idempotency_key=None,
        correlation_id=None,
        trace=Trace.from_traceparent(None),
    )
    return await _page(visit, form.version, execution=outcome.execution)


P = "/prompts/{name}"

ENDPOINTS = [
    endpoint("GET", P + "/playground", playground, "Render and run a prompt"),
    endpoint("POST", P + "/render", render, "Render preview"),
    endpoint("POST", P + "/run", run, "Run (synchronously)"),
]
