"""Signing in and out over raw HTTP: the session cookie, CSRF on every form, revocation."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import DEV_KEY
from tests.console.conftest import Visitor, VisitorFactory, make_key, put_prompt


async def test_pages_need_a_session_and_come_back_after_sign_in(visitors: VisitorFactory) -> None:
    async with visitors() as anonymous:
        page = await anonymous.get("/executions?status=failed")
        assert page.status_code == 303
        assert page.headers["location"] == "/sign-in?next=%2Fexecutions%3Fstatus%3Dfailed"

        form = await anonymous.get("/sign-in?next=/executions%3Fstatus%3Dfailed")
        assert form.status_code == 200
        assert 'name="next" value="/executions?status=failed"' in form.text
        signed = await anonymous.post(
            "/sign-in", {"api_key": DEV_KEY, "next": "/executions?status=failed"}
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/executions?status=failed"
        assert (await anonymous.get("/executions?status=failed")).status_code == 200


async def test_the_session_cookie_is_httponly_samesite_and_secure_behind_https(
    visitors: VisitorFactory,
) -> None:
    async with visitors() as visitor:
        await visitor.get("/sign-in")
        plain = await visitor.post("/sign-in", {"api_key": DEV_KEY})
        cookie = plain.headers["set-cookie"]
        assert cookie.startswith("pl_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP (make dev): a Secure cookie would be dropped
        assert DEV_KEY not in cookie  # the cookie holds a random token, never the key

        await visitor.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
        behind_proxy = await visitor.http.post(
            "/sign-in",
            data={"api_key": DEV_KEY, "csrf": visitor.csrf},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert behind_proxy.status_code == 303
        assert "; Secure" in behind_proxy.headers["set-cookie"]


async def test_a_wrong_key_is_refused_with_the_form_again(visitors: VisitorFactory) -> None:
    async with visitors() as visitor:
        await visitor.get("/sign-in")
        refused = await visitor.post("/sign-in", {"api_key": "pl_not-a-key"})
        assert refused.status_code == 401
        assert "That API key is not valid" in refused.text
        assert "pl_session" not in refused.headers.get("set-cookie", "")
        assert (await visitor.get("/prompts")).status_code == 303


async def test_sign_in_itself_needs_the_forms_token(visitors: VisitorFactory) -> None:
    """Login CSRF: another site cannot sign a visitor in with the attacker's key."""
    async with visitors() as visitor:
        forged = await visitor.post("/sign-in", {"api_key": DEV_KEY}, csrf=False)
        assert forged.status_code == 403
        assert "pl_session" not in forged.headers.get("set-cookie", "")
        await visitor.get("/sign-in")
        wrong = await visitor.post("/sign-in", {"api_key": DEV_KEY, "csrf": "guessed"}, csrf=False)
        assert wrong.status_code == 403


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
async def test_sign_in_never_redirects_off_site(visitors: VisitorFactory, target: str) -> None:
    async with visitors() as visitor:
        await visitor.get("/sign-in")
        signed = await visitor.post("/sign-in", {"api_key": DEV_KEY, "next": target})
        assert signed.status_code == 303
        assert signed.headers["location"] == "/prompts"


async def test_forms_without_the_session_token_change_nothing(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    move = {"label": "production", "version": "1", "reason": "ship"}

    missing = await visitor.post("/prompts/greeting/labels", move, csrf=False)
    assert missing.status_code == 403
    assert "CSRF" in missing.text
    wrong = await visitor.post("/prompts/greeting/labels", {**move, "csrf": "x" * 43}, csrf=False)
    assert wrong.status_code == 403
    labels = await client.get("/v1/prompts/greeting/labels")
    assert labels.json()["labels"] == []

    moved = await visitor.post("/prompts/greeting/labels", move)
    assert moved.status_code == 303
    labels = await client.get("/v1/prompts/greeting/labels")
    assert [label["label"] for label in labels.json()["labels"]] == ["production"]


async def test_the_token_is_also_accepted_as_a_header(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    moved = await visitor.http.post(
        "/prompts/greeting/labels",
        data={"label": "dev", "version": "1", "reason": "try"},
        headers={"X-CSRF-Token": visitor.csrf, "HX-Request": "true"},
    )
    assert moved.status_code == 303


async def test_sign_out_ends_the_session_server_side(visitors: VisitorFactory) -> None:
    async with visitors() as visitor:
        await visitor.sign_in(DEV_KEY)
        token = visitor.http.cookies["pl_session"]
        out = await visitor.post("/sign-out", {})
        assert out.status_code == 303
        assert out.headers["location"] == "/sign-in"
        assert "Max-Age=0" in out.headers["set-cookie"]

    async with visitors() as replay:  # the old cookie, replayed, opens nothing
        replay.http.cookies.set("pl_session", token)
        again = await replay.get("/prompts")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/sign-in")


async def test_revoking_the_key_ends_the_session_on_the_next_request(
    visitors: VisitorFactory, client: httpx.AsyncClient
) -> None:
    project_id, key = await make_key(client, "default", ["prompts:read"])
    async with visitors() as visitor:
        assert (await visitor.sign_in(key)).status_code == 303
        assert (await visitor.get("/prompts")).status_code == 200
        keys = (await client.get(f"/v1/projects/{project_id}/keys")).json()["items"]
        key_id = next(k["key_id"] for k in keys if k["name"] == "default-key")
        revoked = await client.delete(f"/v1/projects/{project_id}/keys/{key_id}")
        assert revoked.status_code == 200

        refused = await visitor.get("/prompts")
        assert refused.status_code == 303
        assert refused.headers["location"] == "/sign-in?next=%2Fprompts&ended=revoked"
        assert "Max-Age=0" in refused.headers["set-cookie"]
        notice = await visitor.get(refused.headers["location"])
        assert "was revoked" in notice.text


async def test_htmx_requests_without_a_session_are_sent_to_sign_in(
    visitors: VisitorFactory,
) -> None:
    async with visitors() as anonymous:
        fragment = await anonymous.http.get(
            "/executions/00000000-0000-0000-0000-000000000000/status",
            headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/executions?x=1"},
        )
        assert fragment.status_code == 401
        assert fragment.headers["hx-redirect"] == "/sign-in?next=%2Fexecutions%3Fx%3D1"


async def test_a_post_without_a_session_changes_nothing_and_says_so(
    visitors: VisitorFactory, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    async with visitors() as anonymous:
        refused = await anonymous.post(
            "/prompts/greeting/labels", {"label": "production", "version": "1", "reason": "x"}
        )
        assert refused.status_code == 401
        assert "Your session has ended" in refused.text
    assert (await client.get("/v1/prompts/greeting/labels")).json()["labels"] == []
