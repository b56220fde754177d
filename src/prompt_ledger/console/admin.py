"""Administration pages: projects (the instance operator's) and a project's API keys.

The operator (signed in with ``API_KEY``) manages every project; a project's ``admin`` key
manages the keys of its own project only, and other projects do not exist for it (404)."""

from __future__ import annotations

from uuid import UUID

from prompt_ledger.auth import Scope
from prompt_ledger.bodies import PageQuery
from prompt_ledger.bodies_admin import KeyBody, ProjectBody
from prompt_ledger.console.web import Visit, endpoint, form_as, page, query_of, redirect
from prompt_ledger.handlers.common import path_uuid
from prompt_ledger.http.endpoint import Reply


def _project_id(visit: Visit) -> UUID:
    return path_uuid(visit.call, "project_id", "Project")


@page(Scope.ADMIN)
async def admin(visit: Visit) -> Reply:
    if visit.session.operator:
        return redirect("/admin/projects")
    return redirect(f"/admin/projects/{visit.principal.project_id}")


@page(Scope.ADMIN)
async def projects(visit: Visit) -> Reply:
    q = query_of(visit.request, PageQuery)
    found = await visit.call.app.access.list_projects(
        visit.principal, limit=q.limit, cursor=q.cursor
    )
    return visit.page("projects.html", found=found)


@page(Scope.ADMIN)
async def create_project(visit: Visit) -> Reply:
    body = form_as(ProjectBody, {"name": visit.value("name")})
    project = await visit.call.app.access.create_project(visit.principal, body.name)
    return redirect(f"/admin/projects/{project.project_id}")


@page(Scope.ADMIN)
async def keys(visit: Visit) -> Reply:
    project_id = _project_id(visit)
    access, q = visit.call.app.access, query_of(visit.request, PageQuery)
    project = await access.get_project(visit.principal, project_id)
    found = await access.list_keys(visit.principal, project_id, limit=q.limit, cursor=q.cursor)
    return visit.page("keys.html", project=project, found=found, scopes=list(Scope))


@page(Scope.ADMIN)
async def create_key(visit: Visit) -> Reply:
    access = visit.call.app.access
    project = await access.get_project(visit.principal, _project_id(visit))  # 404 first
    body = form_as(KeyBody, {"name": visit.value("name"), "scopes": visit.form.getlist("scopes")})
    created = await access.create_key(visit.principal, project.project_id, body.asked())
    return visit.page("key_created.html", status=201, project=project, created=created)


@page(Scope.ADMIN)
async def revoke_key(visit: Visit) -> Reply:
    project_id = _project_id(visit)
    key_id = path_uuid(visit.call, "key_id", "API key")
    await visit.call.app.access.revoke_key(visit.principal, project_id, key_id)
    return redirect(f"/admin/projects/{project_id}")


PROJECT = "/admin/projects/{project_id}"

ENDPOINTS = [
    endpoint("GET", "/admin", admin, "Administration"),
    endpoint("GET", "/admin/projects", projects, "Projects"),
    endpoint("POST", "/admin/projects", create_project, "Create a project"),
    endpoint("GET", PROJECT, keys, "A project's API keys"),
    endpoint("POST", PROJECT + "/keys", create_key, "Create an API key (shown once)"),
    endpoint("POST", PROJECT + "/keys/{key_id}/revoke", revoke_key, "Revoke an API key"),
]
