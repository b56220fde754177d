"""The baseline of bench/cold_start.py: a bare functions-framework ASGI hello function."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


@functions_framework.aio.http
async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")
