"""Acceptance: the seeds' SDK examples (seeds/000, "5.2 Initialize PromptLedger in Your App",
"Pattern 1: Full Management Mode", "Pattern 2: Code-Based Tracking Mode"), run UNMODIFIED
against a live gateway on a loopback port. The code blocks are copied verbatim below and
executed as they are; the only setup is the environment they read (PROMPT_LEDGER_URL,
PROMPT_LEDGER_API_KEY). Executions without a model use the server's default,
openai/gpt-4o-mini, answered by the offline demo provider."""

from __future__ import annotations

from typing import Any

import pytest

from prompt_ledger import Execution, PromptLedger
from tests.conftest import DEV_KEY

# seeds/000 §5.2 "Initialize PromptLedger in Your App" (your_app/main.py), verbatim
SECTION_5_2 = """\
# your_app/main.py
from prompt_ledger import PromptLedger
import os

# Initialize PromptLedger client
ledger = PromptLedger(
    api_url=os.getenv("PROMPT_LEDGER_URL", "https://prompt-ledger-api.yourapp.railway.app"),
    api_key=os.getenv("PROMPT_LEDGER_API_KEY")
)

# Example: Create a prompt
def setup_prompts():
    ledger.create_prompt(
        name="user_welcome",
        template="Hello {{name}}! Welcome to {{app_name}}.",
        description="Welcome message for new users",
        owner_team="product"
    )

# Example: Execute a prompt
def send_welcome_email(user_name, app_name):
    result = ledger.execute(
        prompt_name="user_welcome",
        variables={
            "name": user_name,
            "app_name": app_name
        },
        model={
            "provider": "openai",
            "model_name": "gpt-4o-mini"
        },
        params={
            "temperature": 0.7,
            "max_tokens": 100
        }
    )
    return result["response_text"]
"""

# seeds/000 "Pattern 1: Full Management Mode", verbatim
PATTERN_1 = """\
# Marketing team updates email templates
ledger.update_prompt("newsletter_header",
    "🎉 {{month}} {{year}} Newsletter - {{theme}}!")

# Execute with latest version
result = ledger.execute("newsletter_header", {
    "month": "January",
    "year": "2026",
    "theme": "New Features"
})
"""

# seeds/000 "Pattern 2: Code-Based Tracking Mode", verbatim
PATTERN_2 = """\
# your_app/prompts.py
class Prompts:
    USER_SUMMARY = "Summarize user {{user_id}} activity in the last {{days}} days."
    ERROR_MESSAGE = "Error: {{error}} occurred in {{context}}."

# Register prompts on startup
ledger.register_code_prompts([
    ("USER_SUMMARY", Prompts.USER_SUMMARY),
    ("ERROR_MESSAGE", Prompts.ERROR_MESSAGE)
])

# Execute with tracking
result = ledger.execute("USER_SUMMARY", {
    "user_id": "12345",
    "days": "30"
})
"""

BLOCKS = {"5.2": SECTION_5_2, "Pattern 1": PATTERN_1, "Pattern 2": PATTERN_2}


def run_block(name: str, namespace: dict[str, Any]) -> None:
    exec(compile(BLOCKS[name], f"seeds/000 {name}", "exec"), namespace)


def test_the_seed_examples_run_unmodified(live_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPT_LEDGER_URL", live_url)
    monkeypatch.setenv("PROMPT_LEDGER_API_KEY", DEV_KEY)
    app: dict[str, Any] = {"__name__": "your_app.main"}

    run_block("5.2", app)
    ledger = app["ledger"]
    assert isinstance(ledger, PromptLedger)
    assert ledger.base_url == live_url  # PROMPT_LEDGER_URL, not the seeds' Railway default
    try:
        app["setup_prompts"]()
        app["setup_prompts"]()  # on every start-up: identical content creates nothing
        welcome = app["send_welcome_email"]("Ada", "Acme")
        assert isinstance(welcome, str)
        assert "Hello Ada! Welcome to Acme." in welcome  # the demo provider echoes the prompt
        prompt = ledger.get_prompt("user_welcome")
        assert prompt.description == "Welcome message for new users"
        assert prompt.owner_team == "product"
        assert prompt.version is not None
        assert prompt.version.version_number == 1

        run_block("Pattern 1", app)
        newsletter = app["result"]
        assert isinstance(newsletter, Execution)
        assert newsletter.status == "succeeded"
        assert newsletter.rendered_prompt == "🎉 January 2026 Newsletter - New Features!"
        assert newsletter["response_text"] == newsletter.response_text
        assert (newsletter.provider, newsletter.model_name) == ("openai", "gpt-4o-mini")
        assert newsletter.served_by == "demo"

        run_block("Pattern 2", app)
        summary = app["result"]
        assert isinstance(summary, Execution)
        assert summary.status == "succeeded"
        assert summary.rendered_prompt == "Summarize user 12345 activity in the last 30 days."
        assert summary.tokens.total > 0
        assert ledger.get_prompt("USER_SUMMARY").mode == "tracking"
        assert ledger.get_prompt("ERROR_MESSAGE").template == app["Prompts"].ERROR_MESSAGE

        executions = ledger.list_executions(limit=10).items
        assert sorted(e.prompt_name for e in executions) == [
            "USER_SUMMARY",
            "newsletter_header",
            "user_welcome",
        ]
    finally:
        ledger.close()
