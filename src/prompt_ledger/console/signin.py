"""Signing in to the console with an API key, and signing out."""

from __future__ import annotations

import hmac
import secrets

from prompt_ledger.console.web import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Visit,
    cookie,
    endpoint,
    html,
    local_path,
    page,
    read_form,
    redirect,
    session_cookie,
)
from prompt_ledger.errors import Unauthorized
from prompt_ledger.http.endpoint import Call, Reply
from prompt_ledger.services.sessions import SessionEnded

ENDED = {
    "revoked": "The API key of your session was revoked. Sign in with a valid key.",
    "expired": "Your session has ended. Sign in again.",
}
NONCE_SECONDS = 3600


def _form(call: Call, *, status: int = 200, error: str | None = None, target: str = "") -> Reply:
    nonce = secrets.token_urlsafe(24)
    ended = ENDED.get(call.request.query_params.get("ended", ""))
    return html(
        "sign_in.html",
        status=status,
        headers={"Set-Cookie": cookie(call.request, SIGN_IN_COOKIE, nonce, NONCE_SECONDS)},
        visit=None,
        nonce=nonce,
        next=local_path(target or call.request.query_params.get("next")),
        notice=None if error else ended,
        error=error,
    )


async def sign_in_page(call: Call) -> Reply:
    try:  # already signed in: straight on
        await call.app.sessions.resume(call.request.cookies.get(SESSION_COOKIE, ""))
    except SessionEnded:
        return _form(call)
    return redirect(local_path(call.request.query_params.get("next")))


async def sign_in(call: Call) -> Reply:
    form = await read_form(call.request, call.app.settings.max_body_bytes)
    target = local_path(form.get("next"))
    nonce = call.request.cookies.get(SIGN_IN_COOKIE, "")
    sent = form.get("csrf", "")
    if not nonce or not hmac.compare_digest(nonce.encode(), sent.encode()):
        return _form(
            call,
            status=403,
            error="The sign-in form expired or did not come from this site; try again.",
            target=target,
        )
    key = form.get("api_key", "").strip()
    if not key:
        return _form(call, status=422, error="Enter an API key.", target=target)
    try:
        token, _ = await call.app.sessions.start(key)
    except Unauthorized:
        return _form(
            call, status=401, error="That API key is not valid (or was revoked).", target=target
        )
    return redirect(target, headers={"Set-Cookie": session_cookie(call.request, token)})


@page()
async def sign_out(visit: Visit) -> Reply:
    await visit.call.app.sessions.end(visit.request.cookies.get(SESSION_COOKIE, ""))
    return redirect(
        "/sign-in", headers={"Set-Cookie": cookie(visit.request, SESSION_COOKIE, "", 0)}
    )


ENDPOINTS = [
    endpoint("GET", "/sign-in", sign_in_page, "Sign-in form"),
    endpoint("POST", "/sign-in", sign_in, "Sign in with an API key"),
    endpoint("POST", "/sign-out", sign_out, "Sign out"),
]
