"""One HTTP function: routes a request to its endpoint, authenticates, validates, calls the
handler and renders the reply or the problem. functions-framework routes every path of the
process to one function, so routing happens here; the gateway uses the very same object."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from prompt_ledger import metrics
from prompt_ledger.auth import Principal, key_from_headers
from prompt_ledger.errors import (
    ForwardLoop,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PromptLedgerError,
    RequestTimeout,
    UnsupportedMediaType,
    ValidationFailed,
)
from prompt_ledger.http.cors import Cors, is_preflight
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.http.forward import FORWARDED_BY, Forwarder, url_variable
from prompt_ledger.http.json_body import parse_json
from prompt_ledger.http.problems import problem_response, validation_failed
from prompt_ledger.http.storable import refuse_unstorable
from prompt_ledger.json_types import BODY

if TYPE_CHECKING:
    from prompt_ledger.container import Container

log = logging.getLogger("prompt_ledger.http")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ContainerProvider = Callable[[], Awaitable["Container"]]
_ANONYMOUS = Principal(uuid.UUID(int=0), frozenset())
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
NO_BODY: Any = object()
# Routing is one regex per endpoint: the matches of the last paths seen are remembered (paths
# carry names and ids, so the memory is bounded, and simply forgotten when full).
MATCH_CACHE_SIZE = 4096
Matches = tuple[tuple[Endpoint, dict[str, Any]], ...]


class Elsewhere(Exception):
    """The request is for an endpoint another function serves."""

    def __init__(self, function: str, endpoint: Endpoint) -> None:
        super().__init__(function)
        self.function = function
        self.endpoint = endpoint


class HttpFunction:
    """A named set of endpoints served as one deployable function.

    ``others`` are the endpoints of the other functions of a per-function deploy: a request for
    one of them is forwarded by ``forwarder`` to the function that serves it (or answered 404
    naming that function and the variable that would reach it)."""

    def __init__(
        self,
        name: str,
        endpoints: Sequence[Endpoint],
        container: ContainerProvider,
        *,
        others: Mapping[str, Sequence[Endpoint]] | None = None,
        forwarder: Forwarder | None = None,
    ) -> None:
        self.name = name
        self.endpoints = list(endpoints)
        # read only for a request this function does not serve (a lazy catalogue loads the
        # other functions' handlers then, not at a cold start)
        self.others: Mapping[str, Sequence[Endpoint]] = others or {}
        self.forwarder = forwarder
        self._container = container
        self._cors: Cors | None = None  # the container's, once known
        self._matches: dict[str, Matches] = {}
        # labelled metric children by (route, method, status): labels() locks and validates
        self._metric: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or secrets.token_hex(16)
        timings: dict[str, float] = {}
        route = ["unmatched"]  # the endpoint's path pattern, once known (low-cardinality label)
        forwarded = False
        try:
            try:
                response = await self._handle(request, timings, route)
            except Elsewhere as elsewhere:
                route[0] = elsewhere.endpoint.path
                response = await self._forward(request, elsewhere, started)
                forwarded = True
        except PromptLedgerError as error:
            response = problem_response(error, instance=request.url.path)
        except Exception:
            log.exception(
                "unhandled error on %s %s (request %s)",
                request.method,
                request.url.path,
                request_id,
            )
            response = problem_response(
                PromptLedgerError(
                    "An unexpected error occurred; it has been logged.", request_id=request_id
                ),
                instance=request.url.path,
            )
        if self._cors is not None and "origin" in request.headers and not forwarded:
            self._cors.decorate(request, response.headers)  # (the serving function did)
        elapsed = time.perf_counter() - started
        response.headers["X-Request-ID"] = request_id[:128]
        if not forwarded:  # a forwarded response carries the target's timings and the hop
            response.headers["Server-Timing"] = server_timing(elapsed, timings)
        method = request.method if request.method in _METHODS else "OTHER"
        key = (route[0], method, response.status_code)
        if (children := self._metric.get(key)) is None:
            children = self._metric[key] = (
                metrics.http_requests.labels(self.name, route[0], method, str(key[2])),
                metrics.http_duration.labels(self.name, route[0], method),
            )
        children[0].inc()
        children[1].observe(elapsed)
        return response

    async def _handle(
        self, request: Request, timings: dict[str, float], route: list[str]
    ) -> Response:
        # The decoded path as the server gave it: request.url.path re-parses the URL, which
        # drops tabs and newlines (`/v1/executions/%09` would be `/v1/executions/`).
        path = str(request.scope["path"]).rstrip("/") or "/"
        elsewhere = self._elsewhere(request.method, path)
        if elsewhere is not None:  # another function's: forwarded before anything opens here
            raise elsewhere
        app = await self._container()
        self._cors = app.cors
        if is_preflight(request):  # before auth: browsers send no API key with it
            route[0] = "preflight"
            return app.cors.preflight(request, self._methods(path))
        endpoint, params = self._route(request.method, path)
        route[0] = endpoint.path
        principal = _ANONYMOUS
        if endpoint.scope is not None:
            secret = key_from_headers(
                request.headers.get("x-api-key"), request.headers.get("authorization")
            )
            principal = await app.auth.authenticate(secret)
            principal.require(endpoint.scope)
            await app.limits.charge(principal, executes=endpoint.executes)
        refuse_unstorable(params, "path")
        query_params = dict(request.query_params)
        refuse_unstorable(query_params, "query")
        query = _parse(endpoint.query, query_params, "query")
        body = None
        if endpoint.body is not None:
            data, may_hold_nul = await _read_json(
                request, app.settings.max_body_bytes, app.settings.request_read_timeout
            )
            if data is NO_BODY and endpoint.body_required:
                raise _no_body(endpoint.body)
            if may_hold_nul:
                refuse_unstorable(data, "body", endpoint.unstored)
            body = _parse(endpoint.body, {} if data is NO_BODY else data, "body", BODY)
        reply = await endpoint.handler(Call(request, app, principal, params, query, body, timings))
        return render(reply, request)

    def _matching(self, path: str) -> Matches:
        """This function's endpoints whose pattern matches ``path``, with their parameters."""
        found = self._matches.get(path)
        if found is None:
            found = tuple(
                (endpoint, params)
                for endpoint in self.endpoints
                if (params := endpoint.match(path)) is not None
            )
            if len(self._matches) >= MATCH_CACHE_SIZE:
                self._matches.clear()
            self._matches[path] = found
        return found

    def _route(self, method: str, path: str) -> tuple[Endpoint, dict[str, Any]]:
        for endpoint, params in self._resource(path):
            if endpoint.method == method or (method == "HEAD" and endpoint.method == "GET"):
                return endpoint, dict(params)
        allowed = self._methods(path, method)
        raise MethodNotAllowed(
            f"{method} is not allowed on {path}.", headers={"Allow": ", ".join(allowed)}
        )

    def _methods(self, path: str, method: str = "OPTIONS") -> list[str]:
        """The methods served on ``path`` (404 when none is)."""
        allowed = {endpoint.method for endpoint, _ in self._resource(path)}
        if not allowed:
            raise NotFound(f"No endpoint {method} {path} in function '{self.name}'.")
        return sorted(allowed)

    def _resource(self, path: str) -> list[tuple[Endpoint, dict[str, Any]]]:
        """The endpoints of the most specific path pattern matching ``path``: a literal segment
        beats a parameter (``.../labels/history`` is the history, not a label of that name)."""
        found = self._matching(path)
        fewest = min((e.path.count("{") for e, _ in found), default=0)
        return [(e, params) for e, params in found if e.path.count("{") == fewest]

    def _elsewhere(self, method: str, path: str) -> Elsewhere | None:
        """The other function this request is for: one serving ``method path`` where this one
        does not, or, when this one serves nothing on ``path``, one serving ``path`` at all
        (it answers the preflight or the 405 itself)."""
        ours = {endpoint.method for endpoint, _ in self._matching(path)}
        if method in ours or (method == "HEAD" and "GET" in ours) or not self.others:
            return None
        by_path: Elsewhere | None = None
        for function, endpoints in self.others.items():
            for endpoint in endpoints:
                if endpoint.match(path) is None:
                    continue
                if endpoint.method == method or (method == "HEAD" and endpoint.method == "GET"):
                    return Elsewhere(function, endpoint)
                by_path = by_path or Elsewhere(function, endpoint)
        return None if ours else by_path

    async def _forward(self, request: Request, elsewhere: Elsewhere, started: float) -> Response:
        function = elsewhere.function
        where = f"{request.method} {request.url.path}"
        if request.headers.get(FORWARDED_BY):
            raise ForwardLoop(
                f"{where} was forwarded here by the "
                f"'{request.headers[FORWARDED_BY][:64]}' function, but this is the '{self.name}' "
                f"function; it is served by '{function}': check "
                f"{url_variable(function)} there.",
                function=function,
            )
        if self.forwarder is None or self.forwarder.url(function) is None:
            raise NotFound(
                f"{where} is served by the '{function}' function, and this '{self.name}' "
                f"function does not know its URL: set {url_variable(function)} on this service "
                f"(or send the request to the {function} function).",
                function=function,
                variable=url_variable(function),
            )
        return await self.forwarder.send(request, function, started)


def server_timing(total: float, outside: dict[str, float]) -> str:
    """``app`` is the whole request; ``overhead`` is ours alone (app minus provider time)."""
    parts = [f"app;dur={total * 1000:.2f}"]
    parts += [f"{name};dur={seconds * 1000:.2f}" for name, seconds in outside.items()]
    if outside:
        parts.append(f"overhead;dur={(total - sum(outside.values())) * 1000:.2f}")
    return ", ".join(parts)


def render(reply: Reply, request: Request) -> Response:
    if isinstance(reply.body, Response):
        reply.body.headers.update(reply.headers)
        return reply.body
    if reply.body is None:
        return Response(
            status_code=reply.status if reply.status != 200 else 204, headers=reply.headers
        )
    if isinstance(reply.body, bytes):
        payload = reply.body
    elif isinstance(reply.body, dict):
        payload = json.dumps(reply.body).encode()
    else:
        payload = reply.body.model_dump_json(by_alias=True).encode()
    headers = dict(reply.headers)
    if request.method in {"GET", "HEAD"} and reply.status == 200:
        # Conditional GET: clients (the SDK's prompt cache) revalidate with If-None-Match.
        etag = '"' + hashlib.blake2b(payload, digest_size=16).hexdigest() + '"'
        headers["ETag"] = etag
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
    return Response(payload, status_code=reply.status, media_type=reply.media_type, headers=headers)


def _parse(
    model: type[BaseModel] | None, data: Any, where: str, context: Any = None
) -> BaseModel | None:
    if model is None:
        return None
    if not isinstance(data, dict):
        raise ValidationFailed(
            f"The {where} must be a JSON object.",
            errors=[{"loc": [where], "msg": "expected an object", "type": "object"}],
        )
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise validation_failed(exc, where, empty=where == "body" and not data) from None


def _no_body(model: type[BaseModel]) -> ValidationFailed:
    """A required body that is absent: the detail says what the body needs (its required
    fields, or the rule it breaks, e.g. one of two fields), else that a PUT replaces it all."""
    absent = {"loc": ["body"], "msg": "a JSON object is required", "type": "missing"}
    try:
        model.model_validate({}, context=BODY)
    except ValidationError as exc:
        named = validation_failed(exc, "body", empty=True)
        return ValidationFailed(named.detail, errors=[absent, *(named.errors or [])])
    return ValidationFailed(
        "The body is empty: a PUT replaces the resource, so send all of it as a JSON object.",
        errors=[absent],
    )


async def _read_json(request: Request, limit: int, read_seconds: float) -> tuple[Any, bool]:
    """The JSON body, or NO_BODY when there is none; and whether it may hold a NUL character
    (only as the escape ``\\u0000``: JSON strings hold no raw control characters)."""
    raw = await read_body(request, limit, read_seconds)
    if not raw.strip():
        return NO_BODY, False
    media, _, params = request.headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send JSON with 'Content-Type: application/json' (got '{media or 'none'}')."
        )
    charset = _CHARSET.search(params)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"Send JSON in UTF-8 (got charset '{charset.group(1)}').")
    return parse_json(raw), b"\\u0000" in raw


async def read_body(request: Request, limit: int, read_seconds: float) -> bytes:
    """The raw body: 413 past ``limit`` bytes (declared or streamed), 408 past
    ``read_seconds``."""
    declared = request.headers.get("content-length", "")
    # More than 18 digits is over any limit (and int() refuses over 4300 digits).
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise PayloadTooLarge(f"The body is larger than the {limit}-byte limit.", limit=limit)
    return await _read_body(request, limit, read_seconds)


async def _read_body(request: Request, limit: int, read_seconds: float) -> bytes:
    """The whole body within ``read_seconds`` (a client promising more than it sends, or
    sending a byte now and then, gets 408 and its connection closed), and ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(read_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"The body is larger than the {limit}-byte limit.", limit=limit
                    )
                chunks.append(chunk)
    except TimeoutError:
        metrics.read_timeouts.inc()
        raise RequestTimeout(
            f"The body did not arrive within {read_seconds:g} s (REQUEST_READ_TIMEOUT).",
            headers={"Connection": "close"},
        ) from None
    return b"".join(chunks)
