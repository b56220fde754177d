"""The PromptLedger Python SDK: ``PromptLedger`` (sync) and ``AsyncPromptLedger`` (async).

    from prompt_ledger import PromptLedger

    ledger = PromptLedger()  # PROMPT_LEDGER_URL, PROMPT_LEDGER_API_KEY
    ledger.create_prompt(name="user_welcome", template="Hello {{name}}!")
    result = ledger.execute("user_welcome", {"name": "Ada"})
    print(result.response_text, result["cost_usd"])

It needs only the base install (httpx, pydantic, jinja2): nothing of the server is imported.
"""

from prompt_ledger.sdk._async import AsyncPromptLedger
from prompt_ledger.sdk._streaming import AsyncExecutionStream, ExecutionStream
from prompt_ledger.sdk._sync import PromptLedger
from prompt_ledger.sdk._traces import Traces
from prompt_ledger.sdk.errors import (
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
    WaitTimeoutError,
)
from prompt_ledger.sdk.options import (
    AnalyticsWindow,
    ExecutionFilters,
    PromptFilters,
    PromptOptions,
    RunOptions,
    TraceFilters,
)
from prompt_ledger.sdk.types import (
    AnalyticsSummary,
    ApiKey,
    CreatedKey,
    DiffResult,
    Execution,
    Label,
    LabelEvent,
    Model,
    Page,
    Project,
    Prompt,
    PromptAnalytics,
    PromptRef,
    PromptSummary,
    RegisterResult,
    RenderResult,
    ResolveFailure,
    SavedPrompt,
    TokenUsage,
    TraceSpan,
    TraceSummary,
    TraceTree,
    Version,
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
]
