"""PromptLedger: a self-hosted control plane for GenAI prompts.

``from prompt_ledger import PromptLedger, AsyncPromptLedger`` gives the SDK clients, and every
other public name of :mod:`prompt_ledger.sdk` (its errors, ``ProviderError`` included, and types).
They are imported on first access, so ``import prompt_ledger`` (e.g. by the CLI or the server)
stays cheap and never loads httpx or pydantic by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from prompt_ledger.sdk import (
        AnalyticsSummary,
        AnalyticsWindow,
        APIConnectionError,
        ApiKey,
        APIStatusError,
        APITimeoutError,
        AsyncExecutionStream,
        AsyncPromptLedger,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ConflictError,
        CreatedKey,
        DiffResult,
        Execution,
        ExecutionFilters,
        ExecutionStream,
        Label,
        LabelEvent,
        Model,
        NotFoundError,
        Page,
        PermissionDeniedError,
        Project,
        Prompt,
        PromptAnalytics,
        PromptFilters,
        PromptLedger,
        PromptLedgerAPIError,
        PromptOptions,
        PromptRef,
        PromptSummary,
        ProviderError,
        RateLimitError,
        RegisterResult,
        RenderResult,
        ResolveFailure,
        RunOptions,
        SavedPrompt,
        ServerError,
        TokenUsage,
        TraceFilters,
        Traces,
        TraceSpan,
        TraceSummary,
        TraceTree,
        ValidationError,
        Version,
        WaitTimeoutError,
    )

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AnalyticsSummary",
    "AnalyticsWindow",
    "ApiKey",
    "AsyncExecutionStream",
    "AsyncPromptLedger",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "CreatedKey",
    "DiffResult",
    "Execution",
    "ExecutionFilters",
    "ExecutionStream",
    "Label",
    "LabelEvent",
    "Model",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "Project",
    "Prompt",
    "PromptAnalytics",
    "PromptFilters",
    "PromptLedger",
    "PromptLedgerAPIError",
    "PromptOptions",
    "PromptRef",
    "PromptSummary",
    "ProviderError",
    "RateLimitError",
    "RegisterResult",
    "RenderResult",
    "ResolveFailure",
    "RunOptions",
    "SavedPrompt",
    "ServerError",
    "TokenUsage",
    "TraceFilters",
    "TraceSpan",
    "TraceSummary",
    "TraceTree",
    "Traces",
    "ValidationError",
    "Version",
    "WaitTimeoutError",
    "__version__",
]
_SDK = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _SDK:
        from prompt_ledger import sdk

        value = getattr(sdk, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'prompt_ledger' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SDK})
