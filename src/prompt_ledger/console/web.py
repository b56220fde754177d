"""The console's page plumbing: sessions from the cookie, CSRF, forms, templates, HTML errors.

A page handler gets a :class:`Visit` (the signed-in session, the services, the parsed form)
and returns a :class:`Reply` rendered from one of the package's own templates. Templates are
ours, not users': a normal Jinja2 environment with autoescape (user templates are only ever
rendered by the sandbox, in ``templates.py``)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from pydantic import BaseModel, ValidationError
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request

from prompt_ledger import __version__
from prompt_ledger.auth import Principal, Scope
from prompt_ledger.console.static import asset_url
from prompt_ledger.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    PromptLedgerError,
    UnsupportedMediaType,
)
from prompt_ledger.http.endpoint import Call, Endpoint, Handler, Reply
from prompt_ledger.http.problems import validation_failed
from prompt_ledger.http.storable import refuse_unstorable
from prompt_ledger.services.sessions import MAX_LIFETIME_SECONDS, Session, SessionEnded

SESSION_COOKIE = "pl_session"
SIGN_IN_COOKIE = "pl_sign_in"  # the sign-in form's CSRF nonce (double submit), before a session
FORM_MEDIA = "application/x-www-form-urlencoded"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
Form = ImmutableMultiDict[str, str]
# The main navigation: (section, title, path, scopes of which any one shows it).
NAV = [
    ("prompts", "Prompts", "/prompts", (Scope.PROMPTS_READ,)),
    ("executions", "Executions", "/executions", (Scope.PROMPTS_READ,)),
    ("traces", "Traces", "/traces", (Scope.PROMPTS_READ,)),  # what GET /v1/traces asks
    ("analytics", "Analytics", "/analytics", (Scope.ANALYTICS_READ,)),
    ("admin", "Admin", "/admin", (Scope.ADMIN,)),
]
M = TypeVar("M", bound=BaseModel)


# --- templates ----------------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    """Built on first use: cold start matters more than the first page."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("prompt_ledger.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, money=money, pretty=pretty, number=number)
    env.globals.update(
        Scope=Scope,
        query=_query,
        asset=asset_url,
        app_version=__version__,
        nav=NAV,
        section="",
        tab="",
    )
    return env


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"${value:.6f}"


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _query(**params: Any) -> str:
    """A query string of the non-empty parameters (``?a=1&b=2``, or '')."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def html(
    template: str, *, status: int = 200, headers: dict[str, str] | None = None, **ctx: Any
) -> Reply:
    body = environment().get_template(template).render(**ctx)
    return Reply(
        body.encode("utf-8"),
        status=status,
        media_type="text/html; charset=utf-8",
        headers={**HEADERS, **(headers or {})},
    )


def redirect(location: str, *, headers: dict[str, str] | None = None) -> Reply:
    """See Other: after a POST, the browser GETs the page (no resubmission on reload)."""
    return Reply(None, status=303, headers={"Location": location, **HEADERS, **(headers or {})})


# --- requests -----------------------------------------------------------------------------------


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def is_https(request: Request) -> bool:
    """Behind a proxy (Railway, Render, Heroku) the scheme arrives in X-Forwarded-Proto."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def base_url(request: Request) -> str:
    """This site's URL as its visitor sees it (for the curl examples of empty states)."""
    url = str(request.base_url).rstrip("/")
    return "https://" + url.removeprefix("http://") if is_https(request) else url


def cookie(request: Request, name: str, value: str, max_age: int) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, Secure when the request came over HTTPS."""
    secure = "; Secure" if is_https(request) else ""
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"


def local_path(target: str | None, default: str = "/prompts") -> str:
    """Only paths of this site are followed after sign-in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def query_of(request: Request, model: type[M]) -> M:
    """Validate the query string's parameters of ``model`` (empty form fields count as absent;
    other parameters belong to the page, e.g. ``moved``)."""
    names = {info.alias or name for name, info in model.model_fields.items()}
    data = {k: v for k, v in request.query_params.items() if v.strip() and k in names}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc, "query") from None


def form_as(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate form fields with a pydantic model (a 422 page naming the fields otherwise)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc, "form") from None


async def read_form(request: Request, limit: int) -> Form:
    """An urlencoded form body (what browsers and htmx send), bounded like JSON bodies."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The form is larger than the {limit}-byte limit.", limit=limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if raw and media != FORM_MEDIA:
        raise UnsupportedMediaType(f"Send a form ({FORM_MEDIA}).")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form could not be read.") from None
    refuse_unstorable(dict(pairs), "form")
    return ImmutableMultiDict(pairs)


# --- pages --------------------------------------------------------------------------------------


@dataclass
class Visit:
    """One signed-in request to a console page."""

    call: Call
    session: Session
    form: Form = field(default_factory=ImmutableMultiDict[str, str])

    @property
    def request(self) -> Request:
        return self.call.request

    @property
    def principal(self) -> Principal:
        return self.session.principal

    def can(self, scope: Scope) -> bool:
        return scope.value in self.principal.scopes or Scope.ADMIN.value in self.principal.scopes

    def can_any(self, scopes: tuple[Scope, ...]) -> bool:
        return any(self.can(scope) for scope in scopes)

    def page(self, template: str, *, status: int = 200, **ctx: Any) -> Reply:
        return html(template, status=status, visit=self, base_url=base_url(self.request), **ctx)

    def value(self, name: str, default: str = "") -> str:
        return self.form.get(name, default).strip()


PageHandler = Callable[[Visit], Awaitable[Reply]]


def page(scope: Scope | None = None) -> Callable[[PageHandler], Handler]:
    """A console page: needs a session (else sign-in), the scope, and on POST a valid CSRF
    token; our errors become an HTML page (or an htmx fragment) with their status."""

    def wrap(handler: PageHandler) -> Handler:
        async def run(call: Call) -> Reply:
            request = call.request
            try:
                session = await call.app.sessions.resume(request.cookies.get(SESSION_COOKIE, ""))
            except SessionEnded as ended:
                return to_sign_in(request, ended.reason)
            visit = Visit(call, session)
            try:
                if request.method == "POST":
                    visit.form = await read_form(request, call.app.settings.max_body_bytes)
                    check_csrf(visit)
                if scope is not None:
                    session.principal.require(scope)
                return await handler(visit)
            except PromptLedgerError as error:
                return error_page(visit, error)

        run.__name__ = run.__qualname__ = handler.__name__
        return run

    return wrap


def check_csrf(visit: Visit) -> None:
    sent = visit.form.get("csrf") or visit.request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(sent.encode(), visit.session.csrf_token.encode()):
        raise Forbidden(
            "This form is out of date or did not come from the console (CSRF check failed); "
            "reload the page and try again."
        )


def to_sign_in(request: Request, reason: str) -> Reply:
    """Send a visitor without a (valid) session to the sign-in page, then back."""
    url = request.url
    if is_htmx(request):  # a fragment: come back to the page that asked for it
        url = urlsplit(request.headers.get("hx-current-url", ""))  # type: ignore[assignment]
    here = url.path + (f"?{url.query}" if url.query else "")
    target = "/sign-in" + _query(
        next=here if (request.method == "GET" or is_htmx(request)) and here != "/" else None,
        ended=None if reason == "signed-out" else reason,
    )
    # Forget a dead cookie; never touch one that was not sent (a cross-site POST comes without
    # it, and must not sign the visitor out).
    clear = {"Set-Cookie": cookie(request, SESSION_COOKIE, "", 0)} if reason != "signed-out" else {}
    if is_htmx(request):  # an htmx request follows this header with a full page load
        return Reply(None, status=401, headers={**HEADERS, **clear, "HX-Redirect": target})
    if request.method != "GET":
        return html("signed_out.html", status=401, headers=clear, visit=None, target=target)
    return redirect(target, headers=clear)


def error_page(visit: Visit, error: PromptLedgerError) -> Reply:
    template = "error_fragment.html" if is_htmx(visit.request) else "error.html"
    return html(template, status=error.status, headers=error.headers, visit=visit, error=error)


def session_cookie(request: Request, token: str) -> str:
    return cookie(request, SESSION_COOKIE, token, MAX_LIFETIME_SECONDS)


def endpoint(method: str, path: str, handler: Handler, summary: str) -> Endpoint:
    """A console route: no API-key scope (the page checks the session), not in the API docs."""
    return Endpoint(method, path, handler, summary, None, tag="console", in_schema=False)
