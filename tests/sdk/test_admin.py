"""Projects and API keys through the SDK (admin scope): create, list, use, revoke; and the
errors a non-admin key, an unknown project and a duplicate name get."""

from __future__ import annotations

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
from prompt_ledger.sdk import _specs as specs
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
