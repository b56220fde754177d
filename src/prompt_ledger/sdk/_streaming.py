"""Streamed runs: ``execute(..., stream=True)``.

The server answers Server-Sent Events: ``started`` (the execution id), ``delta`` (text as the
provider generates it), then ``done`` (the recorded execution, as ``execute`` returns it) or
``error`` (a problem: the provider failed mid-stream, and the execution is recorded failed with
what had come). Iterating a stream yields the text deltas; once it is exhausted,
``stream.execution`` is the recorded execution. An ``error`` event raises
:class:`~prompt_ledger.sdk.errors.ProviderError` from the iteration. Closing a stream early
(``close()``, or leaving its ``with`` block) disconnects: the server records the execution
failed (``client_disconnected``) with the text sent so far."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

import httpx

from prompt_ledger.sdk.errors import (
    APIConnectionError,
    APITimeoutError,
    PromptLedgerAPIError,
    error_from_problem,
)
from prompt_ledger.sdk.types import Execution

__all__ = ["AsyncExecutionStream", "EventReader", "ExecutionStream"]


class EventReader:
    """Server-Sent Events from lines: ``feed`` a line, get the event it completes (if any)."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if not line:
            if not self._data:
                return None
            event = (self._event, "\n".join(self._data))
            self._event, self._data = "message", []
            return event
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


class _State:
    """What both streams keep: the execution id, the text so far, and the final execution."""

    def __init__(self) -> None:
        self.execution_id: str | None = None
        self.execution: Execution | None = None
        self.text = ""
        self._reader = EventReader()

    def delta(self, line: str) -> str | None:
        """The text a line completes, if any; records ``started`` and ``done``; raises the
        ``error`` event's problem."""
        found = self._reader.feed(line)
        if found is None:
            return None
        event, raw = found
        try:
            data: Any = json.loads(raw)
        except ValueError as exc:
            raise PromptLedgerAPIError(f"Unreadable stream event {event!r}: {exc}") from exc
        if event == "delta":
            text = str(data.get("text", ""))
            self.text += text
            return text
        if event == "started":
            self.execution_id = data.get("execution_id")
        elif event == "done":
            self.execution = Execution.model_validate(data)
            self.execution_id = str(self.execution.execution_id)
        elif event == "error":
            raise error_from_problem(int(data.get("status") or 502), data)
        return None

    def broken(self, exc: httpx.TransportError) -> PromptLedgerAPIError:
        """A connection that failed mid-stream, as the SDK's error (the server records the
        execution failed, ``client_disconnected``, with what it had sent)."""
        kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        return kind(
            f"The stream of execution {self.execution_id} broke: {type(exc).__name__}: {exc}"
        )

    def finished(self) -> None:
        if self.execution is None:
            raise PromptLedgerAPIError(
                "The stream ended before its execution was sent (connection cut?); "
                f"execution id: {self.execution_id}",
            )


class ExecutionStream:
    """The text of a streamed run as it comes (iterate it), then ``execution``."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._state = _State()
        self._lines = response.iter_lines()

    @property
    def execution_id(self) -> str | None:
        """Known from the first event on."""
        return self._state.execution_id

    @property
    def text(self) -> str:
        """The text received so far."""
        return self._state.text

    @property
    def execution(self) -> Execution | None:
        """The recorded execution, once the stream is exhausted."""
        return self._state.execution

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            for line in self._lines:
                text = self._state.delta(line)
                if text:
                    return text
                if self._state.execution is not None:
                    break
        except httpx.TransportError as exc:
            self.close()
            raise self._state.broken(exc) from exc
        except BaseException:
            self.close()
            raise
        self.close()
        self._state.finished()
        raise StopIteration

    def until_done(self) -> Execution:
        """Read to the end (dropping the deltas); the recorded execution."""
        for _ in self:
            pass
        assert self._state.execution is not None
        return self._state.execution

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> ExecutionStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncExecutionStream:
    """The text of a streamed run as it comes (``async for``), then ``execution``."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._state = _State()
        self._lines = response.aiter_lines()

    @property
    def execution_id(self) -> str | None:
        return self._state.execution_id

    @property
    def text(self) -> str:
        return self._state.text

    @property
    def execution(self) -> Execution | None:
        return self._state.execution

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        try:
            async for line in self._lines:
                text = self._state.delta(line)
                if text:
                    return text
                if self._state.execution is not None:
                    break
        except httpx.TransportError as exc:
            await self.aclose()
            raise self._state.broken(exc) from exc
        except BaseException:
            await self.aclose()
            raise
        await self.aclose()
        self._state.finished()
        raise StopAsyncIteration

    async def until_done(self) -> Execution:
        async for _ in self:
            pass
        assert self._state.execution is not None
        return self._state.execution

    async def aclose(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> AsyncExecutionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
