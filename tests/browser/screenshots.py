"""Regenerate the console's screenshots in docs/screenshots/ (`make screenshots`).

A fresh database (on the server DATABASE_URL points at, or an embedded PostgreSQL), a live
gateway with the demo provider, a few prompts, versions, label moves and executions made
through the API, then Debian's Chromium signs in and photographs the main pages.

    python -m tests.browser.screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from prompt_ledger import migrate
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import libpq_url
from tests.browser.chromium import running_chromium
from tests.conftest import DEV_KEY, create_database, drop_database
from tests.live_gateway import LiveServer, demo_settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [  # (file, path, viewport width, colour scheme)
    ("sign-in.png", "/sign-in", 1280, "light"),
    ("prompts.png", "/prompts", 1280, "light"),
    ("prompt.png", "/prompts/doc_summarizer", 1280, "light"),
    ("diff.png", "/prompts/doc_summarizer/diff?from=1&to=3", 1280, "light"),
    ("executions.png", "/executions", 1280, "light"),
    ("prompt-dark.png", "/prompts/doc_summarizer", 1280, "dark"),
    ("prompts-phone.png", "/prompts", 390, "dark"),
    ("docs.png", "/docs", 1280, "light"),
    ("traces.png", "/traces", 1280, "light"),
    ("analytics.png", "/analytics", 1280, "light"),
    ("analytics-prompt.png", "/analytics/prompts/doc_summarizer", 1280, "light"),
    ("analytics-prompt-dark.png", "/analytics/prompts/doc_summarizer", 1280, "dark"),
]
TRACE = "5b8efff798038103d269b633813fc60c"
ROOT_SPAN = "eee19b7ec3c1b174"


@contextmanager
def database() -> Iterator[str]:
    with ExitStack() as stack:
        server_url = os.environ.get("DATABASE_URL")
        if server_url:
            server_url = libpq_url(server_url)
        else:
            from prompt_ledger.embedded import EmbeddedPostgres

            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pl-shots-")))
            embedded = EmbeddedPostgres(data / "pgdata", delete_on_exit=True)
            stack.callback(embedded.stop)
            server_url = embedded.url
        name = f"pl_shots_{uuid.uuid4().hex[:10]}"
        url = create_database(server_url, name)
        stack.callback(drop_database, server_url, name)
        migrate.upgrade(url)
        yield url


def seed(api: httpx.Client) -> str:
    """Prompts, versions, labels and executions worth looking at; returns an execution id."""

    def ok(response: httpx.Response) -> httpx.Response:
        assert response.status_code < 300, response.text
        return response

    ok(
        api.put(
            "/v1/models/openai/gpt-4o-mini",
            json={"input_price_per_mtok": 0.15, "output_price_per_mtok": 0.6},
        )
    )
    ok(
        api.put(
            "/v1/models/anthropic/claude-haiku-4-5",
            json={"input_price_per_mtok": 1, "output_price_per_mtok": 5},
        )
    )
    doc = "/v1/prompts/doc_summarizer"
    versions = [
        ("Summarize:\n{{text}}", "first draft"),
        ("Summarize the document below in {{sentences}} sentences.\n\n{{text}}", "bounded length"),
        (
            "You are a precise editor.\nSummarize the document below in {{sentences}} sentences, "
            "for {{audience}}.\n\n{{text}}",
            "audience-aware",
        ),
    ]
    for template, message in versions:
        ok(
            api.put(
                doc,
                json={
                    "template_source": template,
                    "description": "Summarize documents for the help center",
                    "owner_team": "AI-Platform",
                    "created_by": "martin",
                    "commit_message": message,
                    "model_defaults": {"provider": "openai", "model_name": "gpt-4o-mini"},
                },
            )
        )
    for label, version, reason in (
        ("production", 1, "first release"),
        ("staging", 3, "audience-aware draft"),
        ("production", 2, "bounded summaries are shorter"),
    ):
        ok(
            api.put(
                f"{doc}/labels/{label}",
                json={"version": version, "reason": reason, "actor": "martin"},
            )
        )
    for name, template, team in (
        ("support_reply", "Reply politely to: {{ticket}}", "support"),
        ("user_welcome", "Hello {{name}}! Welcome to {{app_name}}.", "growth"),
        ("sql_explainer", "Explain this SQL to a beginner:\n{{query}}", "data"),
    ):
        ok(api.put(f"/v1/prompts/{name}", json={"template_source": template, "owner_team": team}))
    ok(
        api.post(
            "/v1/prompts:register",
            json={"prompts": [{"name": "code_hint", "template": "Hint: {{topic}}"}]},
        )
    )
    execution = ""
    for i in range(6):
        ran = ok(
            api.post(
                "/v1/executions:run",
                json={
                    "prompt_name": "doc_summarizer",
                    "environment": "production",
                    "variables": {
                        "text": f"Quarterly report {i}...",
                        "sentences": 2,
                        "audience": "executives",
                    },
                },
            )
        )
        execution = ran.json()["execution_id"]
    ok(
        api.post(
            "/v1/executions:run",
            json={
                "prompt_name": "user_welcome",
                "variables": {"name": "Ada", "app_name": "PromptLedger"},
            },
        )
    )
    return str(execution)


def seed_trace(api: httpx.Client) -> str:
    """A help-center request traced by its application, with an execution joining it (its
    ``traceparent``) and a few staging runs of the newest version; returns the trace id."""
    for _ in range(3):
        staged = api.post(
            "/v1/executions:run",
            json={
                "prompt_name": "doc_summarizer",
                "environment": "staging",
                "variables": {"text": "Release notes...", "sentences": 3, "audience": "support"},
            },
        )
        assert staged.status_code == 200, staged.text
    ran = api.post(
        "/v1/executions:run",
        json={
            "prompt_name": "doc_summarizer",
            "environment": "production",
            "variables": {"text": "How do I reset my password?", "sentences": 2},
        },
        headers={"traceparent": f"00-{TRACE}-{ROOT_SPAN}-01"},
    )
    assert ran.status_code == 200, ran.text
    done = api.get(f"/v1/executions/{ran.json()['execution_id']}").json()
    started = datetime.fromisoformat(done["started_at"])
    finished = datetime.fromisoformat(done["completed_at"])

    def at(moment: datetime, ms: float) -> str:
        return (moment + timedelta(milliseconds=ms)).isoformat()

    def span(span_id: str, parent: str | None, name: str, kind: str, start: str, end: str) -> Any:
        return {
            "span_id": span_id,
            "parent_span_id": parent,
            "name": name,
            "span_type": kind,
            "started_at": start,
            "ended_at": end,
            "status": "OK",
        }

    spans = [
        span(ROOT_SPAN, None, "POST /help/answer", "SERVER", at(started, -42), at(finished, 30)),
        span(
            "1f0a", ROOT_SPAN, "retrieve articles", "RETRIEVER", at(started, -38), at(started, -6)
        ),
        span("1f0b", "1f0a", "vector search", "TOOL", at(started, -36), at(started, -20)),
        span("1f0c", "1f0a", "rerank", "TOOL", at(started, -19), at(started, -8)),
        span("1f0d", ROOT_SPAN, "format reply", "CHAIN", at(finished, 4), at(finished, 24)),
    ]
    sent = api.post(
        "/v1/traces", json={"trace_id": TRACE, "service_name": "help-center", "spans": spans}
    )
    assert sent.status_code == 202, sent.text
    return TRACE


def shoot(page: Page, url: str, out: Path, name: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if name == "docs.png":
        page.wait_for_selector(".opblock")
    page.screenshot(path=str(out / name), full_page=name != "docs.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with database() as url, LiveServer(create_gateway(settings=demo_settings(url))) as server:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": DEV_KEY}, timeout=30) as api:
            execution = seed(api)
            trace = seed_trace(api)
        pages = [
            *PAGES,
            ("execution.png", f"/executions/{execution}", 1280, "light"),
            ("trace.png", f"/traces/{trace}", 1280, "light"),
            ("trace-phone.png", f"/traces/{trace}", 390, "dark"),
        ]
        with running_chromium() as browser:
            for name, path, width, scheme in pages:
                context = browser.new_context(
                    viewport={"width": width, "height": 900 if width > 500 else 844},
                    color_scheme="dark" if scheme == "dark" else "light",
                )
                page = context.new_page()
                if path != "/sign-in":
                    page.goto(f"{server.url}/sign-in")
                    page.get_by_label("API key").fill(DEV_KEY)
                    page.get_by_label("API key").press("Enter")
                    page.wait_for_url("**/prompts")
                shoot(page, server.url + path, out, name)
                context.close()
                print(f"{out / name}")


if __name__ == "__main__":
    main()
