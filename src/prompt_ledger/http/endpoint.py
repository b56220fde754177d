"""An endpoint: method, path pattern, scope, body/query models and an async handler."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from starlette.convertors import Convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

from prompt_ledger.auth import Principal, Scope

if TYPE_CHECKING:
    from prompt_ledger.container import Container

B = TypeVar("B", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Reply:
    body: BaseModel | dict[str, Any] | bytes | Response | None
    """A Response (e.g. a stream of events) is sent as it is, with ``headers`` added."""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass(slots=True)
class Call:
    """Everything a handler gets: validated inputs, the caller and the services."""

    request: Request
    app: Container
    principal: Principal
    path: dict[str, Any]
    query: BaseModel | None
    body: BaseModel | None
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent outside our code (e.g. ``provider``), reported in Server-Timing."""

    def body_as(self, model: type[B]) -> B:
        assert isinstance(self.body, model), f"endpoint declares {type(self.body)}"
        return self.body

    def query_as(self, model: type[B]) -> B:
        assert isinstance(self.query, model), f"endpoint declares {type(self.query)}"
        return self.query


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    scope: Scope | None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    tag: str = "registry"
    in_schema: bool = True
    """False for the console's HTML pages: they are not part of the API's OpenAPI document."""
    also: tuple[int, ...] = ()
    """Other success statuses answered with the same body (e.g. 200 and 201 of an upsert)."""
    executes: bool = False
    """Starts an execution: counted against the key's executions-per-minute limit too."""
    streams: bool = False
    """Also answers Server-Sent Events (text/event-stream) when its body asks to stream."""
    unstored: tuple[str, ...] = ()
    """Top-level body fields never stored (a render's variables): they may hold what PostgreSQL
    cannot (``http/storable.py``)."""
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _convertors: dict[str, Convertor[Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex, _, convertors = compile_path(self.path)
        # A parameter segment holds no ':', so `/v1/executions/{id}:cancel` is that action's
        # alone, never also `GET /v1/executions/{execution_id}` (405 Allow lists only POST).
        regex = re.compile(regex.pattern.replace("[^/]+", "[^/:]+"))
        object.__setattr__(self, "_regex", regex)
        object.__setattr__(self, "_convertors", convertors)

    @property
    def body_required(self) -> bool:
        """An empty body reads as ``{}`` where every field has a default, except for a PUT:
        it replaces the resource, so it says what with. (The OpenAPI document says the same.)"""
        fields = self.body.model_fields.values() if self.body is not None else ()
        return self.method == "PUT" or any(f.is_required() for f in fields)

    def match(self, path: str) -> dict[str, Any] | None:
        found = self._regex.match(path)
        if found is None:
            return None
        try:
            return {k: self._convertors[k].convert(v) for k, v in found.groupdict().items()}
        except ValueError:  # an {x:int} segment over Python's 4300-digit conversion limit
            return None
