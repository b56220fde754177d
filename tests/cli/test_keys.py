"""``promptledger projects`` and ``promptledger keys``: create a project, a key for it (the
secret printed once), use the key, list and revoke it; with their exact output."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from prompt_ledger.auth import Scope as ServerScope
from prompt_ledger.cli.keys import DEFAULT_PROJECT, Scope
from prompt_ledger.records import DEFAULT_PROJECT_ID
from prompt_ledger.sdk import PromptLedger
from tests.cli.conftest import Cli

RULE = "─"


def when(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_the_cli_knows_the_servers_scopes_and_default_project() -> None:
    assert [s.value for s in Scope] == [s.value for s in ServerScope]
    assert DEFAULT_PROJECT == DEFAULT_PROJECT_ID


def test_projects_and_keys_life_cycle(cli: Cli, ledger: PromptLedger) -> None:
    created = cli.ok("projects", "create", "checkout")
    project = next(p for p in ledger.list_projects().items if p.name == "checkout")
    assert created.stdout == f"Created project checkout ({project.project_id}).\n"
    default = next(p for p in ledger.list_projects().items if p.name == "default")
    assert cli.ok("projects", "list").stdout == (
        "Project id                             Name       Created\n"
        f"{RULE * 69}\n"
        f"{project.project_id}   checkout   {when(project.created_at)}\n"
        f"{default.project_id}   default    {when(default.created_at)}\n"
    )

    made = cli.ok(
        "keys",
        "create",
        "--project",
        str(project.project_id),
        "--name",
        "checkout-service",
        "--scope",
        "prompts:read",
        "--scope",
        "execute",
    )
    key = ledger.list_keys(project.project_id).items[0]
    secret = made.stdout.splitlines()[-1]
    assert made.stdout == (
        f"Created key checkout-service ({key.key_id}) in project {project.project_id}.\n"
        "Scopes: execute, prompts:read\n"
        "Secret (shown once, store it now):\n"
        f"{secret}\n"
    )
    assert secret.startswith(key.prefix)

    scoped = Cli(cli.url, key=secret)
    assert scoped.ok("prompts", "list", "--json").stdout == "[]\n"  # the project's: none

    listed = cli.ok("keys", "list", "--project", str(project.project_id))
    used = ledger.list_keys(project.project_id).items[0].last_used_at
    assert listed.stdout == (
        "Key id                                 Name               Prefix       "
        "Scopes                  Created               Last used             Revoked\n"
        f"{RULE * 146}\n"
        f"{key.key_id}   checkout-service   {key.prefix}   execute, prompts:read   "
        f"{when(key.created_at)}   {when(used)}   -\n"
    )

    revoked = cli.ok("keys", "revoke", str(key.key_id), "--project", str(project.project_id))
    after = ledger.list_keys(project.project_id).items[0]
    assert (
        revoked.stdout
        == f"Revoked key checkout-service ({key.key_id}) at {when(after.revoked_at)}.\n"
    )
    refused = scoped("prompts", "list")
    assert refused.exit_code == 6

    # --json gives the secret to scripts; the default project is the bootstrap key's
    as_json = json.loads(cli.ok("keys", "create", "--name", "ci", "--json").stdout)
    assert as_json["project_id"] == DEFAULT_PROJECT_ID
    assert as_json["scopes"] == ["execute", "prompts:read", "prompts:write"]
    assert as_json["key"].startswith(as_json["prefix"])
    keys = json.loads(cli.ok("keys", "list", "--json").stdout)
    assert [k["key_id"] for k in keys] == [as_json["key_id"]]
    assert "key" not in keys[0]


def test_a_project_admin_gets_one_clear_line_for_the_operators_commands(
    cli: Cli, ledger: PromptLedger
) -> None:
    project = ledger.create_project("team-b")
    admin = ledger.create_key(project.project_id, "b-admin", scopes=["admin"])
    team_b = Cli(cli.url, key=admin.key)

    refused = team_b("projects", "list")
    assert refused.exit_code == 6
    assert refused.stderr == (
        "Error: Only the instance operator (the bootstrap key API_KEY, or a key with the "
        "'operator' scope) may do this; a project's 'admin' key manages that project's keys "
        "only.\n"
        "  required scope: operator\n"
    )
    other = team_b("keys", "list")  # the default project is not there for B's key
    assert other.exit_code == 3
    assert other.stderr.startswith("Error: Project 00000000-0000-0000-0000-000000000001 not found")

    made = team_b.ok("keys", "create", "--project", str(project.project_id), "--name", "bot")
    assert f"in project {project.project_id}." in made.stdout
    listed = json.loads(
        team_b.ok("keys", "list", "--project", str(project.project_id), "--json").stdout
    )
    assert sorted(k["name"] for k in listed) == ["b-admin", "bot"]


def test_a_key_can_be_created_with_its_own_rate_limits(cli: Cli, ledger: PromptLedger) -> None:
    made = cli.ok(
        "keys",
        "create",
        "--name",
        "batch",
        "--requests-per-minute",
        "120",
        "--executions-per-minute",
        "0",
    )
    assert "Limit: 120 requests per minute\nNo executions limit\n" in made.stdout
    key = next(k for k in ledger.list_keys(DEFAULT_PROJECT_ID).items if k.name == "batch")
    assert (key.requests_per_minute, key.executions_per_minute) == (120, 0)
    refused = cli("keys", "create", "--name", "bad", "--requests-per-minute", "-1")
    assert refused.exit_code == 2  # a usage error, before any request
