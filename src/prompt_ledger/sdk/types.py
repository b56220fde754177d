"""What the SDK returns: typed pydantic models that are also subscriptable, so both
``result.response_text`` and the seeds' ``result["response_text"]`` work.

The ledger's records (executions, versions, labels, models) are the very models the server
serialises (:mod:`prompt_ledger.records`, pydantic only); the views below mirror the server's
response bodies, ignoring fields a newer server may add.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from prompt_ledger import records, records_analytics

__all__ = [
    "AnalyticsSummary",
    "ApiKey",
    "CreatedKey",
    "DiffResult",
    "Execution",
    "Label",
    "LabelEvent",
    "Message",
    "Model",
    "Page",
    "Project",
    "Prompt",
    "PromptAnalytics",
    "PromptRef",
    "PromptSummary",
    "RegisterResult",
    "RenderResult",
    "ResolveFailure",
    "SavedPrompt",
    "Span",
    "TokenUsage",
    "TraceSpan",
    "TraceSummary",
    "TraceTree",
    "Version",
]

T = TypeVar("T")


class Subscriptable:
    """Read fields (and properties) by key: ``obj["name"]``, ``obj.get("name")``, ``"x" in obj``."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        if not isinstance(self, BaseModel):  # pragma: no cover - mixed into models only
            raise TypeError(type(self).__name__)
        fields = type(self).model_fields
        if key in fields:
            return getattr(self, key)
        for name, info in fields.items():
            if info.alias == key:
                return getattr(self, name)
        if isinstance(getattr(type(self), key, None), property):
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        try:
            self[str(key)]
        except KeyError:
            return False
        return True

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fields, with the server's names."""
        assert isinstance(self, BaseModel)
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data


class APIObject(Subscriptable, BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())


Message = records.Message


class Version(records.Version, Subscriptable):
    pass


class PromptSummary(records.PromptSummary, Subscriptable):
    pass


class Label(records.Label, Subscriptable):
    pass


class LabelEvent(records.LabelEvent, Subscriptable):
    pass


class Model(records.Model, Subscriptable):
    pass


class Span(records.Span, Subscriptable):
    pass


class ProviderAttempt(records.ProviderAttempt, Subscriptable):
    pass


class Project(records.Project, Subscriptable):
    pass


class TraceSummary(records.TraceSummary, Subscriptable):
    """One trace as listed (``GET /v1/traces``)."""


class TraceSpan(records.SpanView, Subscriptable):
    """One span of a trace tree (``depth`` 0 for a root; execution spans carry their
    execution, prompt and version)."""


class TraceTree(records.TraceTree, Subscriptable):
    """One trace whole: its spans depth first, each before its children."""

    spans: list[TraceSpan]  # type: ignore[assignment]


class ApiKey(records.ApiKey, Subscriptable):
    """An API key as listed: its prefix and scopes, never the secret."""


class CreatedKey(APIObject):
    """A new API key: ``key`` is the secret, shown this once (the server stores its hash)."""

    key: str
    key_id: UUID
    project_id: UUID
    name: str
    prefix: str
    scopes: list[str]
    requests_per_minute: int | None = None
    executions_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt: int
    response: int

    @property
    def total(self) -> int:
        return self.prompt + self.response


class Execution(records.Execution, Subscriptable):
    """One execution from the ledger (``spans`` and ``provider_attempts`` only when read back
    by id)."""

    spans: list[Span] = []
    provider_attempts: list[ProviderAttempt] = []

    @property
    def tokens(self) -> TokenUsage:
        """Token counts (0 where the provider did not report them)."""
        return TokenUsage(self.prompt_tokens or 0, self.response_tokens or 0)

    @property
    def done(self) -> bool:
        return self.status in {"succeeded", "failed", "cancelled"}


class AnalyticsSummary(records_analytics.AnalyticsSummary, Subscriptable):
    """A project's window: ``totals``, ``by_model``, ``top_prompts_by_volume``/``_by_cost``."""


class PromptAnalytics(records_analytics.PromptAnalytics, Subscriptable):
    """One prompt's window: ``totals``, ``by_version``, ``by_label``, ``by_model``, ``series``."""


class RenderResult(APIObject):
    name: str
    version_number: int
    kind: Literal["text", "chat"]
    text: str | None
    messages: list[dict[str, str]] | None
    variables: list[str]

    def as_text(self) -> str:
        """One string: the text, or the messages as ``[role]`` blocks."""
        if self.text is not None:
            return self.text
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages or [])


class Prompt(PromptSummary):
    """A prompt with its resolved version (``GET /v1/prompts/{name}``).

    ``resolved_by`` is ``active``, ``label:<name>``, ``version:<n>`` or, for a prompt built
    from ``get_prompt(..., fallback=...)`` while the server was unreachable, ``fallback``.
    """

    version: Version | None
    resolved_by: str

    @property
    def is_fallback(self) -> bool:
        return self.resolved_by == "fallback"

    @property
    def template(self) -> str | None:
        return None if self.version is None else self.version.template_source

    @property
    def variables(self) -> list[str]:
        return [] if self.version is None else list(self.version.variables)

    def render(self, variables: Mapping[str, Any] | None = None, /, **kw: Any) -> RenderResult:
        """Render the resolved version locally, in the server's own sandbox (no I/O).

        Raises :class:`~prompt_ledger.sdk.errors.ValidationError` exactly where the server's
        render would answer 422 (missing variables, template errors)."""
        from prompt_ledger.sdk import _local

        if self.version is None:
            from prompt_ledger.sdk.errors import ConflictError

            raise ConflictError(
                f"409 Conflict: Prompt '{self.name}' has no active version.", status=409
            )
        version = self.version
        rendered = _local.render(version, {**(variables or {}), **kw})
        return RenderResult(
            name=self.name,
            version_number=version.version_number,
            kind=version.kind,
            text=rendered.text,
            messages=rendered.messages,
            variables=list(version.variables),
        )


class SavedPrompt(Prompt):
    """The answer to create/update: the prompt, and whether a new version was created."""

    created: bool


class RegisterResult(APIObject):
    name: str
    version_number: int
    checksum_hash: str
    changed: bool


class ResolveFailure(APIObject):
    """A prompt ``prefetch`` could not resolve, and why."""

    name: str
    status: int
    detail: str


class DiffResult(APIObject):
    name: str
    from_version: int
    to_version: int
    template_diff: str
    model_defaults_diff: str
    identical: bool


class Page(APIObject, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor=`` for the next (None at the end)."""

    items: list[T]
    next_cursor: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    def iter_items(self) -> Iterator[T]:
        return iter(self.items)


@dataclass(frozen=True, slots=True)
class PromptRef:
    """Which prompt to resolve: by name, optionally pinned to a label or a version."""

    name: str
    label: str | None = None
    version: int | None = None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_ID = UUID(int=0)


def fallback_prompt(name: str, fallback: str | Sequence[Mapping[str, str]]) -> Prompt:
    """A Prompt built locally from ``fallback`` (template text or chat messages); its variables
    and checksum are computed exactly as the server would."""
    return Prompt(
        prompt_id=NO_ID,
        name=name,
        mode="full",
        created_at=EPOCH,
        updated_at=EPOCH,
        version=fallback_version(fallback),
        resolved_by="fallback",
    )


def fallback_version(fallback: str | Sequence[Mapping[str, str]]) -> Version:
    """Version 0: not from the server, built from the caller's fallback content."""
    from prompt_ledger.sdk import _local

    if isinstance(fallback, str):
        template_source: str | None = fallback
        messages: list[Message] | None = None
    else:
        template_source = None
        messages = [Message.model_validate(dict(m)) for m in fallback]
    version = Version(
        version_id=NO_ID,
        prompt_id=NO_ID,
        version_number=0,
        kind="text" if messages is None else "chat",
        template_source=template_source,
        messages=messages,
        variables=[],
        checksum_hash=hashlib.sha256(b"").hexdigest(),
        status="active",
        created_at=EPOCH,
    )
    variables, checksum = _local.declared(version)
    return version.model_copy(update={"variables": variables, "checksum_hash": checksum})
