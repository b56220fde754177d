"""The SDK's surface against the real gateway: prompts, versions, labels, diffs, code prompts,
models, executions (sync run, queued submit + wait, cancel) and pagination."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prompt_ledger import AsyncPromptLedger, PromptLedger
from prompt_ledger.container import Container
from prompt_ledger.sdk import (
    ConflictError,
    Execution,
    Label,
    NotFoundError,
    RegisterResult,
    SavedPrompt,
    WaitTimeoutError,
)
from tests.sdk.conftest import running_worker


class Prompts:
    """The seeds' pattern: public string attributes are the prompts."""

    USER_SUMMARY = "Summarize user {{user_id}} activity in the last {{days}} days."
    ERROR_MESSAGE = "Error: {{error}} occurred in {{context}}."
    _PRIVATE = "not a prompt"
    RETRIES = 3  # not a string: not a prompt


class MorePrompts(Prompts):
    FAREWELL = "Goodbye {{name}}."
    ERROR_MESSAGE = "Error: {{error}}."  # overrides the base class


def test_prompts_versions_labels_and_diffs(ledger: PromptLedger) -> None:
    created = ledger.create_prompt(
        name="doc_summarizer",
        template="Summarize:\n{{text}}",
        description="Summarize documents",
        owner_team="AI-Platform",
        created_by="martin",
    )
    assert isinstance(created, SavedPrompt)
    assert created.created
    assert created["created"] is True
    assert created.version is not None
    assert created.version.variables == ["text"]
    assert not ledger.create_prompt("doc_summarizer", "Summarize:\n{{text}}").created  # dedup

    updated = ledger.update_prompt(
        "doc_summarizer", "Summarize briefly:\n{{text}}", commit_message="shorter"
    )
    assert updated.version is not None
    assert updated.version.version_number == 2
    assert updated.description == "Summarize documents"  # kept when not given

    assert [v.version_number for v in ledger.list_versions("doc_summarizer").items] == [2, 1]
    assert ledger.get_version("doc_summarizer", 1).template_source == "Summarize:\n{{text}}"
    diff = ledger.diff("doc_summarizer", 1, 2)
    assert "+Summarize briefly:" in diff.template_diff
    assert not diff.identical

    labels = ledger.set_label("doc_summarizer", "production", 1, reason="stable", actor="ci")
    assert [(lb.label, lb.version_number) for lb in labels] == [("production", 1)]
    assert all(isinstance(lb, Label) for lb in ledger.list_labels("doc_summarizer"))
    pinned = ledger.get_prompt("doc_summarizer", label="production")
    assert (pinned.template, pinned.resolved_by) == ("Summarize:\n{{text}}", "label:production")
    assert ledger.get_prompt("doc_summarizer", version=2).resolved_by == "version:2"
    history = ledger.label_history("doc_summarizer").items
    assert [(e.label, e.to_version, e.reason) for e in history] == [("production", 1, "stable")]
    ledger.remove_label("doc_summarizer", "production", reason="retired")
    with pytest.raises(NotFoundError):
        ledger.get_prompt("doc_summarizer", label="production")

    rolled_back = ledger.activate_version("doc_summarizer", 1)
    assert rolled_back.active_version_number == 1
    assert ledger.archive_version("doc_summarizer", 2).status == "archived"

    rendered = ledger.render("doc_summarizer", {"text": "hello"})
    assert (rendered.text, rendered.version_number) == ("Summarize:\nhello", 1)
    assert rendered == ledger.render_local("doc_summarizer", {"text": "hello"})

    summaries = ledger.list_prompts(owner_team="AI-Platform").items
    assert [s.name for s in summaries] == ["doc_summarizer"]


def test_code_prompts_from_pairs_and_classes(ledger: PromptLedger) -> None:
    results = ledger.register_code_prompts(
        [("USER_SUMMARY", Prompts.USER_SUMMARY), ("ERROR_MESSAGE", Prompts.ERROR_MESSAGE)]
    )
    assert all(isinstance(r, RegisterResult) for r in results)
    assert [(r.name, r.version_number, r.changed) for r in results] == [
        ("USER_SUMMARY", 1, True),
        ("ERROR_MESSAGE", 1, True),
    ]
    again = ledger.register_prompts_from(Prompts)  # identical content: nothing changes
    assert [(r.name, r.changed) for r in again] == [
        ("USER_SUMMARY", False),
        ("ERROR_MESSAGE", False),
    ]
    more = ledger.register_code_prompts(MorePrompts)
    assert [(r.name, r.version_number, r.changed) for r in more] == [
        ("USER_SUMMARY", 1, False),
        ("ERROR_MESSAGE", 2, True),
        ("FAREWELL", 1, True),
    ]
    assert ledger.get_prompt("ERROR_MESSAGE").template == "Error: {{error}}."
    assert ledger.get_prompt("FAREWELL").mode == "tracking"
    assert ledger.register_code_prompts({"MAPPED": "From a mapping"})[0].name == "MAPPED"
    with pytest.raises(ConflictError):
        ledger.update_prompt("FAREWELL", "edited through the API")


def test_execute_returns_a_typed_and_subscriptable_result(ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")
    result = ledger.execute(
        "greet",
        {"name": "Ada"},
        model="openai/gpt-4o-mini",
        params={"temperature": 0.2, "max_new_tokens": 50},
        environment="production",
        correlation_id="order-42",
    )
    assert isinstance(result, Execution)
    assert result.status == "succeeded"
    assert result["status"] == "succeeded"
    assert result["response_text"] == result.response_text
    assert result.response_text is not None
    assert "Hello Ada!" in result.response_text
    assert result.rendered_prompt == "Hello Ada!"
    assert result.tokens.total == result.tokens.prompt + result.tokens.response > 0
    assert result["tokens"] == result.tokens
    assert result["model_config"] == result.model_config_  # the server's name works too
    assert result.cost_usd == Decimal(0)  # the demo provider is free
    assert result.correlation_id == "order-42"
    assert result.params is not None
    assert result.params["max_tokens"] == 50
    assert "response_text" in result
    assert "nonsense" not in result
    assert result.get("nonsense", "default") == "default"
    with pytest.raises(KeyError):
        result["nonsense"]
    assert result.to_dict()["execution_id"] == str(result.execution_id)

    fetched = ledger.get_execution(str(result.execution_id))
    assert fetched.execution_id == result.execution_id
    assert [s.kind for s in fetched.spans] == ["llm"]
    [attempt] = fetched.provider_attempts
    assert (attempt.attempt_number, attempt.outcome) == (1, "succeeded")
    assert attempt.cost_usd == Decimal(0)
    assert attempt["prompt_tokens"] == result.prompt_tokens
    listed = ledger.list_executions(prompt_name="greet", status="succeeded")
    assert [e.execution_id for e in listed.items] == [result.execution_id]
    assert ledger.list_executions(min_attempts=2).items == []


def test_submit_and_wait(ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")
    queued = ledger.submit("greet", {"name": "Ada"})
    assert queued.execution_mode == "async"
    assert queued.status in {"queued", "running", "succeeded"}
    done = ledger.wait(str(queued.execution_id), timeout=30)
    assert done.status == "succeeded"
    assert done.done
    assert done.response_text is not None


def test_paginate_walks_every_page(ledger: PromptLedger) -> None:
    ledger.register_code_prompts([(f"p{i:02}", f"t{i}") for i in range(7)])
    first = ledger.list_prompts(limit=3)
    assert len(first) == 3
    assert first.next_cursor is not None
    names = [p.name for p in ledger.paginate(ledger.list_prompts, limit=3)]
    assert names == [f"p{i:02}" for i in range(7)]
    models = list(ledger.paginate(ledger.list_models, provider="openai", limit=1))
    assert [m.model_name for m in models] == ["gpt-4o-mini"]


# --- async ---------------------------------------------------------------------------------


async def test_the_async_client_runs_submits_waits_and_cancels(
    aledger: AsyncPromptLedger, demo_container: Container
) -> None:
    await aledger.create_prompt("greet", "Hello {{name}}!")
    result = await aledger.execute(prompt_name="greet", variables={"name": "Ada"})
    assert result["status"] == "succeeded"
    assert result.provider == "openai"

    queued = await aledger.submit("greet", {"name": "Bob"})
    with pytest.raises(WaitTimeoutError) as waited:  # no worker yet: it stays queued
        await aledger.wait(str(queued.execution_id), timeout=0.3, poll_interval=0.05)
    assert waited.value.execution.status == "queued"

    doomed = await aledger.submit("greet", {"name": "Eve"})
    cancelled = await aledger.cancel_execution(str(doomed.execution_id))
    assert cancelled.status == "cancelled"
    with pytest.raises(ConflictError):
        await aledger.cancel_execution(str(doomed.execution_id))

    async with running_worker(demo_container):
        done = await aledger.wait(str(queued.execution_id), timeout=30)
    assert done.status == "succeeded"
    assert done.response_text is not None
    assert "Hello Bob!" in done.response_text

    statuses = sorted([e.status async for e in aledger.paginate(aledger.list_executions, limit=1)])
    assert statuses == ["cancelled", "succeeded", "succeeded"]


async def test_the_async_client_manages_prompts(aledger: AsyncPromptLedger) -> None:
    await aledger.register_prompts_from(Prompts)
    assert (await aledger.get_prompt("USER_SUMMARY")).mode == "tracking"
    await aledger.create_prompt("p", "one", description="d")
    await aledger.update_prompt("p", "two")
    assert [v.version_number for v in (await aledger.list_versions("p")).items] == [2, 1]
    assert (await aledger.diff("p", 1, 2)).template_diff
    await aledger.set_label("p", "staging", 1)
    assert [lb.label for lb in await aledger.list_labels("p")] == ["staging"]
    await aledger.remove_label("p", "staging")
    assert (await aledger.label_history("p")).items[0].to_version is None
    assert (await aledger.get_version("p", 1)).template_source == "one"
    assert (await aledger.activate_version("p", 1)).active_version_number == 1
    assert (await aledger.archive_version("p", 2)).status == "archived"
    assert (await aledger.list_models(provider="openai")).items
    page = await aledger.list_prompts(mode="tracking")
    assert sorted(s.name for s in page.items) == ["ERROR_MESSAGE", "USER_SUMMARY"]
