"""PromptLedger: a self-hosted control plane for GenAI prompts.

``from prompt_ledger import PromptLedger, AsyncPromptLedger`` gives the SDK clients. They are
imported on first access, so ``import prompt_ledger`` (e.g. by the CLI or the server) stays
cheap and never loads httpx or pydantic by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from prompt_ledger.sdk import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AsyncPromptLedger,
        AuthenticationError,
        ConflictError,
        Execution,
        NotFoundError,
        PermissionDeniedError,
        Prompt,
        PromptLedger,
        PromptLedgerAPIError,
        RateLimitError,
        ServerError,
        ValidationError,
    )

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPromptLedger",
    "AuthenticationError",
    "ConflictError",
    "Execution",
    "NotFoundError",
    "PermissionDeniedError",
    "Prompt",
    "PromptLedger",
    "PromptLedgerAPIError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
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
