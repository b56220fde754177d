"""Executions on both clients: run (also streamed), submit, wait, read, list, cancel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Unpack, overload

import httpx

from prompt_ledger.sdk import _specs_executions as exec_specs
from prompt_ledger.sdk._base import Core, Poller
from prompt_ledger.sdk._specs import Spec
from prompt_ledger.sdk._streaming import AsyncExecutionStream, ExecutionStream
from prompt_ledger.sdk.options import ExecutionFilters, RunOptions
from prompt_ledger.sdk.types import Execution, Page

T = TypeVar("T")


class SyncExecutions:
    """The executions of :class:`PromptLedger`."""

    _core: Core
    _http: httpx.Client

    def _request(self, spec: Spec[T]) -> T:  # the client's
        raise NotImplementedError

    @overload
    def execute(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        stream: Literal[False] = False,
        **options: Unpack[RunOptions],
    ) -> Execution: ...

    @overload
    def execute(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        stream: Literal[True],
        **options: Unpack[RunOptions],
    ) -> ExecutionStream: ...

    def execute(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        stream: bool = False,
        **options: Unpack[RunOptions],
    ) -> Execution | ExecutionStream:
        """Run a prompt synchronously and return the recorded execution. ``stream=True``:
        an :class:`ExecutionStream` yielding the text as it is generated, then holding the
        recorded execution (``stream.execution``)."""
        spec = exec_specs.execution("run", prompt_name, variables, options)
        if stream:
            return self._stream(exec_specs.streamed(spec))
        return self._request(spec)

    def _stream(self, spec: Spec[Execution]) -> ExecutionStream:
        """Open a stream, retried as ``_request`` retries until the server accepts it."""
        core, attempt = self._core, 0
        while True:
            request = self._http.build_request(**core.request_args(spec))
            try:
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                delay = core.delay_after_error(spec, attempt, exc)
            else:
                if response.is_success:
                    return ExecutionStream(response)
                response.read()
                response.close()
                delay = core.delay_after_response(spec, attempt, response)
            time.sleep(delay)
            attempt += 1

    def submit(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        **options: Unpack[RunOptions],
    ) -> Execution:
        """Queue a prompt run (durably accepted); ``wait()`` for its result."""
        return self._request(exec_specs.execution("submit", prompt_name, variables, options))

    def wait(
        self, execution_id: str, *, timeout: float = 60.0, poll_interval: float = 0.25
    ) -> Execution:
        """Poll until the execution is succeeded, failed or cancelled (raises
        :class:`WaitTimeoutError` after ``timeout`` seconds)."""
        poller = Poller(str(execution_id), timeout, poll_interval)
        while (delay := poller.next_delay(self.get_execution(execution_id))) is not None:
            time.sleep(delay)
        assert poller.last is not None
        return poller.last

    def get_execution(self, execution_id: str) -> Execution:
        return self._request(exec_specs.get_execution(execution_id))

    def list_executions(self, **filters: Unpack[ExecutionFilters]) -> Page[Execution]:
        return self._request(exec_specs.list_executions(filters))

    def cancel_execution(self, execution_id: str) -> Execution:
        """Cancel a queued execution (409 once it has started)."""
        return self._request(exec_specs.cancel_execution(execution_id))


class AsyncExecutions:
    """The executions of :class:`AsyncPromptLedger`."""

    _core: Core
    _http: httpx.AsyncClient

    async def _request(self, spec: Spec[T]) -> T:  # the client's
        raise NotImplementedError

    @overload
    async def execute(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        stream: Literal[False] = False,
        **options: Unpack[RunOptions],
    ) -> Execution: ...

    @overload
    async def execute(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        stream: Literal[True],
        **options: Unpack[RunOptions],
    ) -> AsyncExecutionStream: ...

    async def execute(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        stream: bool = False,
        **options: Unpack[RunOptions],
    ) -> Execution | AsyncExecutionStream:
        """Run a prompt synchronously and return the recorded execution. ``stream=True``: an
        :class:`AsyncExecutionStream` yielding (``async for``) the text as it is generated,
        then holding the recorded execution (``stream.execution``)."""
        spec = exec_specs.execution("run", prompt_name, variables, options)
        if stream:
            return await self._stream(exec_specs.streamed(spec))
        return await self._request(spec)

    async def _stream(self, spec: Spec[Execution]) -> AsyncExecutionStream:
        """Open a stream, retried as ``_request`` retries until the server accepts it."""
        core, attempt = self._core, 0
        while True:
            request = self._http.build_request(**core.request_args(spec))
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                delay = core.delay_after_error(spec, attempt, exc)
            else:
                if response.is_success:
                    return AsyncExecutionStream(response)
                await response.aread()
                await response.aclose()
                delay = core.delay_after_response(spec, attempt, response)
            await asyncio.sleep(delay)
            attempt += 1

    async def submit(
        self,
        prompt_name: str,
        variables: Mapping[str, Any] | None = None,
        **options: Unpack[RunOptions],
    ) -> Execution:
        """Queue a prompt run (durably accepted); ``wait()`` for its result."""
        return await self._request(exec_specs.execution("submit", prompt_name, variables, options))

    async def wait(
        self,
        execution_id: str,
        *,
        timeout: float = 60.0,  # noqa: ASYNC109 - the polling deadline, as in PromptLedger.wait
        poll_interval: float = 0.25,
    ) -> Execution:
        """Poll until the execution is succeeded, failed or cancelled (raises
        :class:`WaitTimeoutError` after ``timeout`` seconds)."""
        poller = Poller(str(execution_id), timeout, poll_interval)
        # Polling a server, not waiting for a local flag: an Event cannot replace this loop.
        while (delay := poller.next_delay(await self.get_execution(execution_id))) is not None:  # noqa: ASYNC110
            await asyncio.sleep(delay)
        assert poller.last is not None
        return poller.last

    async def get_execution(self, execution_id: str) -> Execution:
        return await self._request(exec_specs.get_execution(execution_id))

    async def list_executions(self, **filters: Unpack[ExecutionFilters]) -> Page[Execution]:
        return await self._request(exec_specs.list_executions(filters))

    async def cancel_execution(self, execution_id: str) -> Execution:
        """Cancel a queued execution (409 once it has started)."""
        return await self._request(exec_specs.cancel_execution(execution_id))
