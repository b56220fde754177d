"""The offline demo provider: deterministic, no network, clearly labelled.

Used when nothing else is configured on a laptop (``promptledger dev`` with no provider key), so
the whole flow can be tried without an account. Every execution it answers is recorded with
``served_by = 'demo'`` and costs nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

from prompt_ledger.providers.base import Completion, CompletionRequest, StreamPiece

DEMO_NOTICE = "[demo provider: offline, deterministic - set OPENAI_API_KEY for real completions]"


class DemoProvider:
    name = "demo"

    async def complete(self, request: CompletionRequest) -> Completion:
        prompt = "\n".join(m["content"] for m in request.messages)
        digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]
        words = prompt.split()
        preview = " ".join(words[:40]) + (" ..." if len(words) > 40 else "")
        text = f"{DEMO_NOTICE}\nmodel={request.model} digest={digest}\n{preview}"
        if request.max_tokens is not None:
            text = " ".join(text.split(" ")[: max(1, request.max_tokens)])
        return Completion(
            text=text,
            prompt_tokens=len(words),
            completion_tokens=len(text.split()),
            model=request.model,
            finish_reason="stop",
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamPiece]:
        """The same text as :meth:`complete`, a word (with the space before it) at a time."""
        completion = await self.complete(request)
        for word in re.findall(r"\s*\S+|\s+$", completion.text):
            yield StreamPiece(text=word)
        yield StreamPiece(
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            model=completion.model,
            finish_reason=completion.finish_reason,
        )

    async def aclose(self) -> None:
        return None
