"""Administration endpoints: the model catalogue and projects (the instance operator's), and
API keys (a project's admins for their own project, the operator for any)."""

from __future__ import annotations

from prompt_ledger.auth import Scope
from prompt_ledger.bodies import Page, PageQuery
from prompt_ledger.bodies_admin import CreatedKey, KeyBody, ModelBody, ModelQuery, ProjectBody
from prompt_ledger.handlers.common import path_text, path_uuid
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.records import ApiKey, Model, Project


async def list_models(call: Call) -> Reply:
    q = call.query_as(ModelQuery)
    return Reply(await call.app.catalog.list(provider=q.provider, limit=q.limit, cursor=q.cursor))


async def put_model(call: Call) -> Reply:
    provider = path_text(call, "provider", "provider")
    model_name = path_text(call, "model_name", "model name")
    call.principal.require_operator("manages the shared model catalogue")
    model, created = await call.app.catalog.upsert(
        provider, model_name, call.body_as(ModelBody).asked()
    )
    return Reply(model, status=201 if created else 200)


async def create_project(call: Call) -> Reply:
    project = await call.app.access.create_project(call.principal, call.body_as(ProjectBody).name)
    return Reply(project, status=201)


async def list_projects(call: Call) -> Reply:
    q = call.query_as(PageQuery)
    return Reply(
        await call.app.access.list_projects(call.principal, limit=q.limit, cursor=q.cursor)
    )


async def create_key(call: Call) -> Reply:
    created = await call.app.access.create_key(
        call.principal, path_uuid(call, "project_id", "Project"), call.body_as(KeyBody).asked()
    )
    return Reply(created, status=201)


async def list_keys(call: Call) -> Reply:
    q = call.query_as(PageQuery)
    return Reply(
        await call.app.access.list_keys(
            call.principal,
            path_uuid(call, "project_id", "Project"),
            limit=q.limit,
            cursor=q.cursor,
        )
    )


async def revoke_key(call: Call) -> Reply:
    return Reply(
        await call.app.access.revoke_key(
            call.principal,
            path_uuid(call, "project_id", "Project"),
            path_uuid(call, "key_id", "API key"),
        )
    )


ADMIN = Scope.ADMIN  # a project's admin, for its own project (checked by the service)
OPERATOR = Scope.OPERATOR  # the instance operator alone
KEYS = "/v1/projects/{project_id}/keys"

ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/models",
        list_models,
        "List models and prices",
        Scope.PROMPTS_READ,
        query=ModelQuery,
        response=Page[Model],
        tag="models",
    ),
    Endpoint(
        "PUT",
        "/v1/models/{provider}/{model_name:path}",
        put_model,
        "Create or update a model and its prices",
        OPERATOR,
        body=ModelBody,
        response=Model,
        also=(201,),  # created
        tag="models",
    ),
    Endpoint(
        "POST",
        "/v1/projects",
        create_project,
        "Create a project",
        OPERATOR,
        body=ProjectBody,
        response=Project,
        status=201,
        tag="admin",
    ),
    Endpoint(
        "GET",
        "/v1/projects",
        list_projects,
        "List projects",
        OPERATOR,
        query=PageQuery,
        response=Page[Project],
        tag="admin",
    ),
    Endpoint(
        "POST",
        KEYS,
        create_key,
        "Create an API key (the secret is shown once)",
        ADMIN,
        body=KeyBody,
        response=CreatedKey,
        status=201,
        tag="admin",
    ),
    Endpoint(
        "GET",
        KEYS,
        list_keys,
        "List a project's API keys",
        ADMIN,
        query=PageQuery,
        response=Page[ApiKey],
        tag="admin",
    ),
    Endpoint(
        "DELETE",
        KEYS + "/{key_id}",
        revoke_key,
        "Revoke an API key",
        ADMIN,
        response=ApiKey,
        tag="admin",
    ),
]
