"""Every endpoint the SDK calls, as a :class:`Spec`: method, path, query, body, headers, whether
it may be resent after the server may have seen it, and how its answer is read. Both clients
send these same specs; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from prompt_ledger.sdk.options import (
    AnalyticsWindow,
    PromptFilters,
    PromptOptions,
    Template,
    TraceFilters,
)
from prompt_ledger.sdk.types import (
    AnalyticsSummary,
    DiffResult,
    Label,
    LabelEvent,
    Page,
    Prompt,
    PromptAnalytics,
    PromptRef,
    PromptSummary,
    RegisterResult,
    RenderResult,
    ResolveFailure,
    SavedPrompt,
    TraceSummary,
    TraceTree,
    Version,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

CodePrompts = Iterable[tuple[str, Template]] | Mapping[str, Template] | type | ModuleType
Resolved = tuple[Prompt, str | None]
"""A resolved prompt and its ETag."""


REGISTER_BATCH = 500  # the server's limits per request
RESOLVE_BATCH = 200


@dataclass(frozen=True, slots=True)
class Spec(Generic[T]):
    """One API call."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    replay_safe: bool = True
    """May be resent when the server may already have acted on it (idempotent)."""
    invalidates: tuple[str, ...] = ()
    """Prompt names whose cached entries a success makes obsolete."""
    timeout: float | None = None


def _model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate_json(response.content)


def _page(cls: type[M]) -> Callable[[httpx.Response], Page[M]]:
    return _model(Page[cls])  # type: ignore[valid-type]


def _labels(response: httpx.Response) -> list[Label]:
    return _LABELS.validate_json(response.content)["labels"]


def _nothing(response: httpx.Response) -> None:
    return None


_LABELS = TypeAdapter(dict[str, list[Label]])
_REGISTERED = TypeAdapter(dict[str, list[RegisterResult]])
_RESOLVED = TypeAdapter(dict[str, list[Prompt | ResolveFailure]])


def _query(**params: Any) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in params.items()
        if v is not None
    }


def _p(name: str) -> str:
    return "/v1/prompts/" + quote(name, safe="")


# --- prompts -------------------------------------------------------------------------------


def put_prompt(name: str, template: Template, options: PromptOptions) -> Spec[SavedPrompt]:
    unknown = set(options) - PromptOptions.__optional_keys__
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    defaults = options.get("model_defaults")
    body: dict[str, Any] = _content("template_source", template)
    body |= _query(
        description=options.get("description"),
        owner_team=options.get("owner_team"),
        model_defaults=None if defaults is None else dict(defaults),
        created_by=options.get("created_by"),
        commit_message=options.get("commit_message"),
    )
    body["set_active"] = options.get("set_active", True)
    return Spec("PUT", _p(name), _model(SavedPrompt), body=body, invalidates=(name,))


def get_prompt(
    name: str, label: str | None, version: int | None, cached: Prompt | None, etag: str | None
) -> Spec[Resolved]:
    """A conditional GET when something is cached: a 304 answers with what we hold."""

    def parse(response: httpx.Response) -> Resolved:
        if response.status_code == 304 and cached is not None:
            return cached, etag
        return Prompt.model_validate_json(response.content), response.headers.get("etag")

    headers = {"If-None-Match": etag} if etag and cached is not None else {}
    return Spec(
        "GET", _p(name), parse, params=_query(label=label, version=version), headers=headers
    )


def resolve(refs: Sequence[PromptRef]) -> Spec[list[Prompt | ResolveFailure]]:
    body = {"prompts": [_query(name=r.name, label=r.label, version=r.version) for r in refs]}
    return Spec(
        "POST",
        "/v1/prompts:resolve",
        lambda response: _RESOLVED.validate_json(response.content)["prompts"],
        body=body,
    )


def refs_of(prompts: Iterable[str | PromptRef]) -> list[PromptRef]:
    return [PromptRef(p) if isinstance(p, str) else p for p in prompts]


def list_prompts(filters: PromptFilters) -> Spec[Page[PromptSummary]]:
    return Spec("GET", "/v1/prompts", _page(PromptSummary), params=_query(**filters))


def register(
    items: Sequence[tuple[str, Template]], created_by: str | None
) -> Spec[list[RegisterResult]]:
    body: dict[str, Any] = {
        "prompts": [{"name": name, **_content("template", t)} for name, t in items]
    }
    if created_by is not None:
        body["created_by"] = created_by
    return Spec(
        "POST",
        "/v1/prompts:register",
        lambda response: _REGISTERED.validate_json(response.content)["prompts"],
        body=body,
        invalidates=tuple(name for name, _ in items),
    )


def code_prompts(source: CodePrompts) -> list[tuple[str, Template]]:
    """(name, template) pairs from pairs, a mapping, or the public string attributes of a class
    (base classes first, in definition order) or a module."""
    if isinstance(source, Mapping):
        return list(source.items())
    if isinstance(source, type):
        found: dict[str, Template] = {}
        for klass in reversed(source.__mro__[:-1]):  # object last in the MRO: skip it
            found |= _public_strings(vars(klass))
        return list(found.items())
    if isinstance(source, ModuleType):
        return list(_public_strings(vars(source)).items())
    return list(cast(Iterable[tuple[str, Template]], source))


def _public_strings(namespace: Mapping[str, Any]) -> dict[str, Template]:
    return {k: v for k, v in namespace.items() if not k.startswith("_") and isinstance(v, str)}


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def render(
    name: str, variables: Mapping[str, Any] | None, label: str | None, version: int | None
) -> Spec[RenderResult]:
    body = {"variables": dict(variables or {})} | _query(label=label, version=version)
    return Spec("POST", _p(name) + ":render", _model(RenderResult), body=body)


def list_versions(name: str, limit: int, cursor: str | None) -> Spec[Page[Version]]:
    return Spec(
        "GET", _p(name) + "/versions", _page(Version), params=_query(limit=limit, cursor=cursor)
    )


def get_version(name: str, number: int) -> Spec[Version]:
    return Spec("GET", f"{_p(name)}/versions/{int(number)}", _model(Version))


def activate_version(name: str, number: int, reason: str | None, actor: str | None) -> Spec[Prompt]:
    return Spec(
        "POST",
        f"{_p(name)}/versions/{int(number)}:activate",
        _model(Prompt),
        body=_query(reason=reason, actor=actor),
        invalidates=(name,),
    )


def archive_version(name: str, number: int) -> Spec[Version]:
    # A second archive of the same version is refused (409): not resent after a lost answer.
    return Spec(
        "POST",
        f"{_p(name)}/versions/{int(number)}:archive",
        _model(Version),
        replay_safe=False,
        invalidates=(name,),
    )


def diff(name: str, from_version: int, to_version: int) -> Spec[DiffResult]:
    return Spec(
        "GET",
        _p(name) + "/diff",
        _model(DiffResult),
        params={"from": from_version, "to": to_version},
    )


def list_labels(name: str) -> Spec[list[Label]]:
    return Spec("GET", _p(name) + "/labels", _labels)


def set_label(
    name: str, label: str, version: int, reason: str | None, actor: str | None
) -> Spec[list[Label]]:
    body = {"version": version} | _query(reason=reason, actor=actor)
    return Spec(
        "PUT",
        f"{_p(name)}/labels/{quote(label, safe='')}",
        _labels,
        body=body,
        invalidates=(name,),
    )


def remove_label(name: str, label: str, reason: str | None) -> Spec[None]:
    # Removing twice answers 404: not resent after a lost answer.
    return Spec(
        "DELETE",
        f"{_p(name)}/labels/{quote(label, safe='')}",
        _nothing,
        params=_query(reason=reason),
        replay_safe=False,
        invalidates=(name,),
    )


def label_history(
    name: str, label: str | None, limit: int, cursor: str | None
) -> Spec[Page[LabelEvent]]:
    return Spec(
        "GET",
        _p(name) + "/labels/history",
        _page(LabelEvent),
        params=_query(label=label, limit=limit, cursor=cursor),
    )


# --- analytics -----------------------------------------------------------------------------


def analytics_summary(window: AnalyticsWindow) -> Spec[AnalyticsSummary]:
    return Spec("GET", "/v1/analytics/summary", _model(AnalyticsSummary), params=_query(**window))


def prompt_analytics(name: str, window: AnalyticsWindow) -> Spec[PromptAnalytics]:
    return Spec(
        "GET",
        "/v1/analytics/prompts/" + quote(name, safe=""),
        _model(PromptAnalytics),
        params=_query(**window),
    )


def _content(text_field: str, template: Template) -> dict[str, Any]:
    if isinstance(template, str):
        return {text_field: template}
    return {"messages": [dict(m) for m in template]}


def list_traces(filters: TraceFilters) -> Spec[Page[TraceSummary]]:
    return Spec("GET", "/v1/traces", _page(TraceSummary), params=_query(**filters))


def get_trace(trace_id: str) -> Spec[TraceTree]:
    return Spec("GET", "/v1/traces/" + quote(str(trace_id), safe=""), _model(TraceTree))
