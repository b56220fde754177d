"""The catalogue of HTTP functions: which endpoints each deployable function serves (the API
functions, and the web console over them).

Every function also answers ``GET /`` (an index: what it is, where its API is), ``GET /health``
(200 only when the database answers), ``GET /livez``, ``GET /metrics`` and ``GET /openapi.json``
(its part of the API, these included)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence

from prompt_ledger import __version__, metrics
from prompt_ledger.bodies import PATH_PARAMETERS, Health
from prompt_ledger.errors import Unauthorized
from prompt_ledger.handlers.home import front_door
from prompt_ledger.http.dispatch import ContainerProvider, HttpFunction
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.http.forward import Forwarder
from prompt_ledger.settings import Settings


class Catalogue(Mapping[str, Sequence[Endpoint]]):
    """Functions' endpoints by name, each function's handlers imported when its endpoints are
    first asked for: a function's process (a cold start) imports its own handlers, not the
    others' (theirs only when a request for them has to be forwarded)."""

    def __init__(self, loaders: Mapping[str, Callable[[], Sequence[Endpoint]]]) -> None:
        self._loaders = dict(loaders)
        self._loaded: dict[str, Sequence[Endpoint]] = {}

    def __getitem__(self, name: str) -> Sequence[Endpoint]:
        found = self._loaded.get(name)
        if found is None:
            found = self._loaded[name] = tuple(self._loaders[name]())
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)

    def without(self, name: str) -> Catalogue:
        """The other functions, as lazy as this."""
        others = Catalogue({n: loader for n, loader in self._loaders.items() if n != name})
        others._loaded = self._loaded  # one load per function, shared
        return others


def _registry() -> Sequence[Endpoint]:
    from prompt_ledger.handlers import admin, prompts

    return [*prompts.ENDPOINTS, *admin.ENDPOINTS]


def _executions() -> Sequence[Endpoint]:
    from prompt_ledger.handlers import executions

    return executions.ENDPOINTS


def _analytics() -> Sequence[Endpoint]:
    from prompt_ledger.handlers import analytics

    return analytics.ENDPOINTS


def _traces() -> Sequence[Endpoint]:
    from prompt_ledger.handlers import traces

    return traces.ENDPOINTS


def _console() -> Sequence[Endpoint]:
    from prompt_ledger import console

    return console.endpoints(API)  # the web console and /docs, over the API's services


FUNCTIONS = Catalogue(
    {
        "registry": _registry,
        "executions": _executions,
        "analytics": _analytics,
        "traces": _traces,
        "console": _console,
    }
)
API = FUNCTIONS.without("console")
"""The API functions (the console serves pages and /docs over them)."""


def build(
    name: str,
    container: ContainerProvider,
    endpoints: Sequence[Endpoint] | None = None,
    *,
    forwarder: Forwarder | None = None,
) -> HttpFunction:
    """One function (or, with explicit endpoints, the gateway's union of them).

    A function knows the endpoints of the others: ``forwarder`` passes their requests on (a
    per-function deploy is then reached through any one function's URL)."""
    own = list(FUNCTIONS[name] if endpoints is None else endpoints)
    others = Catalogue({}) if endpoints is not None else FUNCTIONS.without(name)

    async def health(call: Call) -> Reply:
        workers = await call.app.live_workers()  # also proves the database answers
        return Reply(Health(status="ok", function=name, version=__version__, workers=workers))

    document: dict[str, object] = {}  # generated on first request: cold start matters more

    async def live(call: Call) -> Reply:
        return Reply(Health(status="ok", function=name, version=__version__))

    async def openapi(call: Call) -> Reply:
        if not document:
            from prompt_ledger.http.openapi import openapi_document

            title = f"PromptLedger {name}"
            document.update(openapi_document(title, served, PATH_PARAMETERS))
        return Reply(document)

    async def prometheus(call: Call) -> Reply:
        token = call.app.settings.metrics_token
        if token is not None:
            scheme, _, given = call.request.headers.get("authorization", "").partition(" ")
            expected = token.get_secret_value().encode()
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
                raise Unauthorized("GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.")
        await call.app.gauges.start()  # the first scrape starts the timer; later ones read
        payload, media_type = metrics.exposition()
        return Reply(payload, media_type=media_type)

    served = [
        *own,
        Endpoint(
            "GET",
            "/health",
            health,
            "Liveness and database check",
            None,
            response=Health,
            tag="ops",
        ),
        Endpoint(
            "GET",
            "/livez",
            live,
            "Liveness (the process answers; no I/O)",
            None,
            response=Health,
            tag="ops",
        ),
        Endpoint("GET", "/metrics", prometheus, "Prometheus metrics", None, tag="ops"),
        Endpoint(
            "GET", "/openapi.json", openapi, "This function's OpenAPI document", None, tag="ops"
        ),
    ]
    return HttpFunction(
        name, front_door(name, served, API), container, others=others, forwarder=forwarder
    )


def forwarder(name: str, settings: Settings) -> Forwarder:
    """What function ``name`` uses to reach the others: their URLs from the settings, and a
    timeout a provider call fits in (``PROVIDER_TIMEOUT`` plus a margin)."""
    urls = {n: url for n, url in settings.function_urls.items() if n != name}
    return Forwarder(name, urls, settings.provider_timeout + settings.forward_timeout_margin)
