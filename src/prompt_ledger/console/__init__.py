"""The web console: server-rendered pages over the same services as the API, in process.

Signed in with an API key (a session cookie), the key's scopes decide what each page shows and
allows. Pages are Jinja2 templates of this package with small vendored assets (htmx, uPlot,
Swagger UI) served from ``static/``: no front-end build, and no internet needed."""

from __future__ import annotations

from prompt_ledger.console import (
    admin,
    analytics,
    executions,
    front,
    playground,
    prompts,
    signin,
    static,
    traces,
)
from prompt_ledger.console.front import Catalogue
from prompt_ledger.http.endpoint import Endpoint


def endpoints(api: Catalogue) -> list[Endpoint]:
    """Every console route; ``api`` is the catalogue of API functions (for /docs and the index)."""
    return [
        *front.endpoints(api),
        *signin.ENDPOINTS,
        *prompts.ENDPOINTS,
        *playground.ENDPOINTS,
        *executions.ENDPOINTS,
        *traces.ENDPOINTS,
        *analytics.ENDPOINTS,
        *admin.ENDPOINTS,
        *static.ENDPOINTS,
    ]
