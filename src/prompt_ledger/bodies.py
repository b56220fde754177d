"""Request and response bodies of the HTTP API. The same models validate requests and generate
the OpenAPI document; unknown fields are refused so typos never pass silently."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from prompt_ledger.asks import PromptRef, PromptWrite, TrackedPrompt
from prompt_ledger.json_types import BODY, refuse_coercion
from prompt_ledger.records import MAX_INT, Label, LabelEvent, Message, PromptSummary, Version
from prompt_ledger.templates import ChatMessage
from prompt_ledger.views import (
    DiffResponse,
    Page,
    PromptView,
    PutPromptResult,
    RegisterResult,
    ResolveFailure,
    bad_cursor,
    cursor_value,
    decode_cursor,
    encode_cursor,
    page_of,
)

__all__ = [  # what services answer (prompt_ledger.views), for the HTTP layer's imports
    "MAX_INT",
    "DiffResponse",
    "Page",
    "PromptView",
    "PutPromptResult",
    "RegisterResult",
    "ResolveFailure",
    "bad_cursor",
    "cursor_value",
    "decode_cursor",
    "encode_cursor",
    "page_of",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$"
LABEL_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
PROVIDER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,49}$"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@+\-]*(/[A-Za-z0-9_.:@+\-]+)*$"
CURSOR_PATTERN = r"^[A-Za-z0-9_\-]{1,500}$"
MAX_TEMPLATE_CHARS = 200_000
MAX_PRICE = 999_999.999999  # the price columns are NUMERIC(12, 6)

PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "pattern": NAME_PATTERN, "description": "Prompt name."},
    "label": {"type": "string", "pattern": LABEL_PATTERN},
    "number": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "provider": {"type": "string", "pattern": PROVIDER_PATTERN},
    "model_name": {
        "type": "string",
        "pattern": MODEL_NAME_PATTERN,
        "maxLength": 100,
        "description": "May hold slashes (e.g. meta-llama/Llama-3.1-8B).",
    },
    "project_id": {"type": "string", "format": "uuid"},
    "key_id": {"type": "string", "format": "uuid"},
    "execution_id": {"type": "string", "format": "uuid"},
    "trace_id": {"type": "string", "minLength": 1, "maxLength": 100},
}
"""The JSON Schema of each path parameter, by name: the OpenAPI documents say what the handlers
check (handlers.common), from the same patterns. A malformed id is simply not found (404)."""

VersionNumber = Annotated[int, Field(ge=1, le=MAX_INT)]
"""A version number: within PostgreSQL's integer, as every integer a request gives is bounded by
what the database holds (too large a number is refused by validation, never by the database)."""


class Body(BaseModel):
    # Validators are built on first use, not at import (cold start).
    model_config = ConfigDict(
        extra="forbid",
        str_max_length=MAX_TEMPLATE_CHARS,
        protected_namespaces=(),
        defer_build=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        if info.context is BODY and info.field_name is not None:
            refuse_coercion(cls.model_fields[info.field_name].annotation, value)
        return value


def _chat(messages: list[Message] | None) -> tuple[ChatMessage, ...] | None:
    return None if messages is None else tuple(ChatMessage(m.role, m.content) for m in messages)


def _given(name: str) -> JsonDict:
    """JSON Schema: the field is present and not null."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def exactly_one_of(*names: str) -> JsonDict:
    """JSON Schema of a cross-field rule that a model validator enforces."""
    given: list[JsonValue] = [_given(n) for n in names]
    return {"oneOf": given}


def not_both(*names: str) -> JsonDict:
    given: list[JsonValue] = [_given(n) for n in names]
    return {"not": {"allOf": given}}


# --- prompts -------------------------------------------------------------------------------


class PromptContentBody(Body):
    model_config = ConfigDict(json_schema_extra=exactly_one_of("template_source", "messages"))

    template_source: str | None = Field(
        default=None,
        description="Jinja2 text template (a text prompt).",
        examples=["Summarize:\n{{text}}"],
    )
    messages: list[Message] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Chat prompt: role/content messages, each content a Jinja2 template.",
    )
    model_defaults: dict[str, Any] | None = Field(
        default=None,
        description="Default model and params stored with the version, e.g. "
        '{"provider": "openai", "model_name": "gpt-4o-mini", "params": {"temperature": 0.2}}.',
    )

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        if (self.template_source is None) == (self.messages is None):
            raise ValueError("give exactly one of template_source (text) or messages (chat)")
        return self


class PutPromptBody(PromptContentBody):
    description: str | None = Field(default=None, max_length=2000)
    owner_team: str | None = Field(default=None, max_length=100)
    created_by: str | None = Field(default=None, max_length=100)
    commit_message: str | None = Field(default=None, max_length=2000)
    set_active: bool = Field(default=True, description="Make the (new or existing) version active.")

    def asked(self) -> PromptWrite:
        """What the registry takes (converted here, at the HTTP edge)."""
        return PromptWrite(
            template_source=self.template_source,
            messages=_chat(self.messages),
            model_defaults=self.model_defaults,
            description=self.description,
            owner_team=self.owner_team,
            created_by=self.created_by,
            commit_message=self.commit_message,
            set_active=self.set_active,
        )


class CodePrompt(Body):
    model_config = ConfigDict(
        json_schema_extra=exactly_one_of("template_source", "template", "messages")
    )

    name: str = Field(pattern=NAME_PATTERN)
    template_source: str | None = Field(default=None, description="Alias: template.")
    template: str | None = None
    messages: list[Message] | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    owner_team: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        given = [x for x in (self.template_source, self.template, self.messages) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of template (or template_source) or messages")
        return self

    def asked(self) -> TrackedPrompt:
        """What the registry takes: ``template`` is ``template_source``'s alias."""
        source = self.template_source if self.template_source is not None else self.template
        return TrackedPrompt(
            name=self.name,
            template_source=source,
            messages=_chat(self.messages),
            description=self.description,
            owner_team=self.owner_team,
        )


class RegisterBody(Body):
    prompts: list[CodePrompt] = Field(min_length=1, max_length=500)
    created_by: str | None = Field(default=None, max_length=100)


class ResolveItem(Body):
    name: str = Field(pattern=NAME_PATTERN)
    label: str | None = Field(default=None, pattern=LABEL_PATTERN)
    version: int | None = Field(default=None, ge=1, le=MAX_INT)

    def asked(self) -> PromptRef:
        return PromptRef(name=self.name, label=self.label, version_number=self.version)


class ResolveBody(Body):
    """Resolve many prompts in one round trip (the SDK's batch prefetch)."""

    prompts: list[ResolveItem] = Field(min_length=1, max_length=200)


class RenderBody(Body):
    variables: dict[str, Any] = Field(default_factory=dict)
    label: str | None = Field(default=None, pattern=LABEL_PATTERN)
    version: int | None = Field(default=None, ge=1, le=MAX_INT)


class LabelBody(Body):
    version: int = Field(ge=1, le=MAX_INT, description="Version number the label should point at.")
    reason: str | None = Field(default=None, max_length=2000)
    actor: str | None = Field(default=None, max_length=100)


class ActivateBody(Body):
    reason: str | None = Field(default=None, max_length=2000)
    actor: str | None = Field(default=None, max_length=100)


class RemoveLabelQuery(Body):
    reason: str | None = Field(default=None, max_length=2000)
    actor: str | None = Field(default=None, max_length=100)


class PromptQuery(Body):
    label: str | None = Field(default=None, pattern=LABEL_PATTERN)
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_INT,
        description="With label: the version the label must point at (404 if it does not).",
    )


class PageQuery(Body):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(
        default=None,
        pattern=CURSOR_PATTERN,
        description="Opaque: the next_cursor of the previous page (any other value is a 422).",
    )


class PromptListQuery(PageQuery):
    owner_team: str | None = Field(default=None, max_length=100)
    label: str | None = Field(default=None, pattern=LABEL_PATTERN)
    mode: Literal["full", "tracking"] | None = None
    search: str | None = Field(default=None, max_length=255, description="Substring of the name.")


class DiffQuery(Body):
    from_: int = Field(alias="from", ge=1, le=MAX_INT)
    to: int = Field(ge=1, le=MAX_INT)


class HistoryQuery(PageQuery):
    label: str | None = Field(default=None, pattern=LABEL_PATTERN)


# --- responses -----------------------------------------------------------------------------


class ResolveResponse(BaseModel):
    prompts: list[PromptView | ResolveFailure] = Field(
        description="One entry per requested prompt, in order: the resolved prompt, or why not."
    )


class RegisterResponse(BaseModel):
    prompts: list[RegisterResult]


class RenderResponse(BaseModel):
    name: str
    version_number: int
    kind: Literal["text", "chat"]
    text: str | None
    messages: list[dict[str, str]] | None
    variables: list[str]


class LabelsResponse(BaseModel):
    labels: list[Label]


LabelHistoryPage = Page[LabelEvent]
VersionPage = Page[Version]
PromptPage = Page[PromptSummary]


class Health(BaseModel):
    status: Literal["ok"]
    function: str
    version: str
    workers: int | None = Field(
        default=None,
        description="GET /health only: queue workers whose heartbeat is fresh (0: submitted "
        "executions wait until a worker runs).",
    )


class Index(BaseModel):
    """``GET /``: what this function is and where its API is."""

    name: str
    function: str = Field(description="registry, executions, console, or gateway (all of them).")
    version: str
    description: str
    links: dict[str, str] = Field(
        description="Paths this function serves: the console, docs (Swagger UI), its OpenAPI "
        "document, health, livez, metrics."
    )
    functions: dict[str, list[str]] = Field(
        description="The API functions this process serves, each with its endpoints "
        "('METHOD /path')."
    )
