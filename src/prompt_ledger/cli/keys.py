"""``promptledger keys`` and ``promptledger projects``: API keys (a project's ``admin`` key
manages that project's; the instance operator's key, any project's) and the projects they
belong to (the operator's key only)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from prompt_ledger.cli.app import CLIENT_PANEL, app
from prompt_ledger.cli.output import JsonFlag, Output, when
from prompt_ledger.cli.session import session, take

DEFAULT_PROJECT = "00000000-0000-0000-0000-000000000001"
"""The project of the bootstrap key (``API_KEY``): ``prompt_ledger.records.DEFAULT_PROJECT_ID``
(not imported, to keep the CLI's start cheap)."""

keys_app = typer.Typer(
    help="API keys of a project: create (the secret is shown once), list, revoke. Needs an admin "
    "key of the project, or the instance operator's key.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys", rich_help_panel=CLIENT_PANEL)
projects_app = typer.Typer(
    help="Projects: create and list. Needs the instance operator's key.", no_args_is_help=True
)
app.add_typer(projects_app, name="projects", rich_help_panel=CLIENT_PANEL)

ProjectOption = Annotated[
    str,
    typer.Option(
        "--project", help="Project id (default: the default project, the bootstrap key's)."
    ),
]


class Scope(StrEnum):
    """The scopes a key may hold (the server's ``prompt_ledger.auth.Scope``)."""

    prompts_read = "prompts:read"
    prompts_write = "prompts:write"
    labels_promote = "labels:promote"
    execute = "execute"
    traces_write = "traces:write"
    analytics_read = "analytics:read"
    admin = "admin"
    operator = "operator"


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Option("--name", help="What the key is for.", show_default=False)],
    scopes: Annotated[
        list[Scope] | None,
        typer.Option(
            "--scope",
            help="A scope of the key (repeatable). Default: prompts:read, prompts:write, execute.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = DEFAULT_PROJECT,
    requests_per_minute: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Its own limit of requests a minute (0: none; default: the server's).",
            show_default=False,
        ),
    ] = None,
    executions_per_minute: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Its own limit of executions a minute (0: none; default: the server's).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create an API key and print its secret: it is shown this once (only its hash is
    stored)."""
    out = Output(json_output)
    with session(ctx) as ledger:
        created = ledger.create_key(
            project,
            name,
            scopes=None if scopes is None else [s.value for s in scopes],
            requests_per_minute=requests_per_minute,
            executions_per_minute=executions_per_minute,
        )

    def text() -> None:
        out.line(f"Created key {created.name} ({created.key_id}) in project {created.project_id}.")
        out.line(f"Scopes: {', '.join(created.scopes)}")
        for kind in ("requests", "executions"):
            limit = getattr(created, f"{kind}_per_minute")
            if limit is not None:
                out.line(f"Limit: {limit} {kind} per minute" if limit else f"No {kind} limit")
        out.line("Secret (shown once, store it now):")
        out.line(created.key)

    out.emit(created.to_dict(), text)


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    project: ProjectOption = DEFAULT_PROJECT,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many keys.")] = 100,
    json_output: JsonFlag = False,
) -> None:
    """List a project's API keys, newest first (prefixes and scopes, never the secrets)."""
    out = Output(json_output)
    with session(ctx) as ledger:
        keys = take(ledger.list_keys, limit, project)
    out.records(
        keys,
        ["Key id", "Name", "Prefix", "Scopes", "Created", "Last used", "Revoked"],
        lambda k: [
            str(k.key_id),
            k.name,
            k.prefix,
            ", ".join(k.scopes),
            when(k.created_at),
            when(k.last_used_at),
            when(k.revoked_at),
        ],
    )


@keys_app.command("revoke")
def revoke_key(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Id of the key.", show_default=False)],
    project: ProjectOption = DEFAULT_PROJECT,
    json_output: JsonFlag = False,
) -> None:
    """Revoke an API key, at once in every server process (revoking twice is harmless)."""
    out = Output(json_output)
    with session(ctx) as ledger:
        key = ledger.revoke_key(project, key_id)
    out.emit(
        key.to_dict(),
        lambda: out.line(f"Revoked key {key.name} ({key.key_id}) at {when(key.revoked_at)}."),
    )


@projects_app.command("create")
def create_project(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Project name.", show_default=False)],
    json_output: JsonFlag = False,
) -> None:
    """Create a project (its keys then see only its prompts and executions)."""
    out = Output(json_output)
    with session(ctx) as ledger:
        project = ledger.create_project(name)
    out.emit(
        project.to_dict(),
        lambda: out.line(f"Created project {project.name} ({project.project_id})."),
    )


@projects_app.command("list")
def list_projects(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many projects.")] = 100,
    json_output: JsonFlag = False,
) -> None:
    """List projects in name order."""
    out = Output(json_output)
    with session(ctx) as ledger:
        projects = take(ledger.list_projects, limit)
    out.records(
        projects,
        ["Project id", "Name", "Created"],
        lambda p: [str(p.project_id), p.name, when(p.created_at)],
    )
