"""Projects and API keys through the SDK (admin scope): create, list, use, revoke; and the
errors a non-admin key, an unknown project and a duplicate name get."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from prompt_ledger import AsyncPromptLedger, PromptLedger
from prompt_ledger.records import DEFAULT_PROJECT_ID
from prompt_ledger.sdk import (
    ApiKey,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    CreatedKey,
    NotFoundError,
    PermissionDeniedError,
    Project,
    ValidationError,
)
from prompt_ledger.sdk import _specs_admin as specs
from tests.sdk.fakes import Script, ok

UNKNOWN = "00000000-0000-0000-0000-00000000beef"


def test_projects_and_keys_life_cycle(ledger: PromptLedger, live_url: str) -> None:
    project = ledger.create_project("checkout")
    assert isinstance(project, Project)
    assert project["name"] == "checkout"
    names = [p.name for p in ledger.paginate(ledger.list_projects, limit=1)]
    assert names == ["checkout", "default"]  # in name order
    with pytest.raises(ConflictError):
        ledger.create_project("checkout")

    created = ledger.create_key(
        project.project_id, "checkout-service", scopes=["prompts:read", "execute"]
    )
    assert isinstance(created, CreatedKey)
    assert created.key.startswith(created.prefix)
    assert (created.project_id, created.name) == (project.project_id, "checkout-service")
    assert created.scopes == ["execute", "prompts:read"]
    default_scopes = ledger.create_key(str(project.project_id), "defaults")
    assert default_scopes.scopes == ["execute", "prompts:read", "prompts:write"]

    listed = ledger.list_keys(project.project_id)
    assert all(isinstance(k, ApiKey) for k in listed.items)
    assert [(k.key_id, k.revoked_at) for k in listed.items] == [  # newest first
        (default_scopes.key_id, None),
        (created.key_id, None),
    ]
    assert "key" not in listed.items[0].to_dict()  # the secret is never listed

    with PromptLedger(live_url, created.key) as scoped:
        assert scoped.list_prompts().items == []  # the new project's prompts: none yet
        with pytest.raises(PermissionDeniedError):
            scoped.list_projects()

    revoked = ledger.revoke_key(project.project_id, created.key_id)
    assert revoked.revoked_at is not None
    again = ledger.revoke_key(str(project.project_id), str(created.key_id))
    assert again.revoked_at == revoked.revoked_at  # idempotent: the first time is kept
    with PromptLedger(live_url, created.key) as scoped, pytest.raises(AuthenticationError):
        scoped.list_prompts()


def test_unknown_projects_keys_and_scopes(ledger: PromptLedger) -> None:
    with pytest.raises(NotFoundError):
        ledger.list_keys(UNKNOWN)
    with pytest.raises(NotFoundError):
        ledger.create_key(UNKNOWN, "k")
    with pytest.raises(NotFoundError):
        ledger.revoke_key(DEFAULT_PROJECT_ID, UNKNOWN)
    with pytest.raises(ValidationError):
        ledger.create_key(DEFAULT_PROJECT_ID, "k", scopes=["everything"])


def test_creating_is_never_resent_but_revoking_is() -> None:
    assert not specs.create_project("p").replay_safe
    assert not specs.create_key(DEFAULT_PROJECT_ID, "k", None).replay_safe
    assert specs.revoke_key(DEFAULT_PROJECT_ID, UNKNOWN).replay_safe
    script = Script([httpx.ReadTimeout("slow"), ok({})])
    with (
        PromptLedger("http://fake", "k", http_client=script.sync_client()) as ledger,
        pytest.raises(APITimeoutError),
    ):
        ledger.create_key(DEFAULT_PROJECT_ID, "k")
    assert len(script.requests) == 1


async def test_the_async_client_manages_projects_and_keys(aledger: AsyncPromptLedger) -> None:
    project = await aledger.create_project("billing")
    assert [p.name for p in (await aledger.list_projects()).items] == ["billing", "default"]
    created = await aledger.create_key(project.project_id, "billing-bot", scopes=["admin"])
    assert created.scopes == ["admin"]
    keys = (await aledger.list_keys(project.project_id)).items
    assert [k.name for k in keys] == ["billing-bot"]
    revoked = await aledger.revoke_key(project.project_id, created.key_id)
    assert revoked.revoked_at is not None


def test_a_project_admin_manages_its_project_only(ledger: PromptLedger, live_url: str) -> None:
    """Issue #11: a project's ``admin`` key is no longer instance-wide; the operator's is."""
    a, b = ledger.create_project("team-a"), ledger.create_project("team-b")
    a_writer = ledger.create_key(a.project_id, "a-writer", scopes=["prompts:write", "execute"])
    with PromptLedger(live_url, a_writer.key) as team_a:
        team_a.create_prompt("a_only", "secret {{ x }}")
        a_run = team_a.execute("a_only", {"x": "1"}, model="openai/gpt-4o-mini")
    b_admin = ledger.create_key(b.project_id, "b-admin", scopes=["admin"])

    with PromptLedger(live_url, b_admin.key) as team_b:
        for hidden in (
            lambda: team_b.create_key(a.project_id, "mine", scopes=["admin"]),
            lambda: team_b.list_keys(a.project_id),
            lambda: team_b.revoke_key(a.project_id, a_writer.key_id),
        ):
            with pytest.raises(NotFoundError):  # another project is not there for B's key
                hidden()
        for attempt in (
            team_b.list_projects,
            lambda: team_b.create_project("c"),
            lambda: team_b.set_model("openai", "gpt-4o-mini", input_price_per_mtok=0),
        ):
            with pytest.raises(PermissionDeniedError) as denied:
                attempt()
            assert denied.value.status == 403
            assert denied.value.body["required_scope"] == "operator"
        with pytest.raises(NotFoundError):
            team_b.get_prompt("a_only")
        with pytest.raises(NotFoundError):
            team_b.get_execution(str(a_run.execution_id))

        deputy = team_b.create_key(b.project_id, "deputy", scopes=["prompts:read"])
        assert {k.name for k in team_b.list_keys(b.project_id).items} == {"b-admin", "deputy"}
        assert team_b.revoke_key(b.project_id, deputy.key_id).revoked_at is not None

    model = ledger.set_model("openai", "gpt-4o-mini", input_price_per_mtok=0.2)
    assert model.input_price_per_mtok == Decimal("0.2")
    assert [k.name for k in ledger.list_keys(a.project_id).items] == ["a-writer"]
