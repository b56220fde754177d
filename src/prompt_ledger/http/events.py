"""A Server-Sent Events response whose producer learns when the client goes away.

Starlette's StreamingResponse cancels its iterator on a disconnect, wherever it is, and leaves
an async generator to be finalised whenever the garbage collector gets to it. Here the producer
(``pump``) is a task of its own, writing events into a queue: the response relays the queue and
cancels the producer when the client disconnects (or a write to it fails), then waits for the
producer to finish, so whatever the producer does on cancellation (recording the outcome) is
done before the request is over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Emit = Callable[[bytes], None]
Pump = Callable[[Emit], Awaitable[None]]

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(self, pump: Pump, *, headers: dict[str, str] | None = None) -> None:
        self._pump = pump
        self.status_code = 200
        self.background = None
        self.init_headers({**HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                await self._pump(queue.put_nowait)
            finally:
                queue.put_nowait(None)

        producer = asyncio.create_task(produce())
        watcher = asyncio.create_task(_disconnected(receive))

        def gone(_: object) -> None:
            producer.cancel()

        watcher.add_done_callback(gone)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while (chunk := await queue.get()) is not None:
                ended = False
                while not queue.empty():  # events already there leave in one write
                    more = queue.get_nowait()
                    if more is None:
                        ended = True
                        break
                    chunk += more
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if ended:
                    break
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client is gone (a server on ASGI 2.4 says so this way)
            producer.cancel()
        finally:
            watcher.remove_done_callback(gone)
            watcher.cancel()
            if not producer.done():
                # Cancelled ourselves (the server stopping): the producer records the outcome.
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([producer])
            if producer.done() and not producer.cancelled():
                producer.exception()  # retrieved: logged by the producer itself


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
