"""Waiting for something another task or process does, with a deadline that fails the test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest


async def eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def cancelled(task: asyncio.Task[Any], what: str, seconds: float = 60) -> None:
    """Cancel ``task`` and wait until it has ended (what it raised, other than the cancellation,
    is raised here); fail naming ``what`` if it is still running after ``seconds``."""
    task.cancel()
    await asyncio.wait({task}, timeout=seconds)
    if not task.done():
        pytest.fail(f"{what} still ran {seconds:g} s after its cancellation")
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
