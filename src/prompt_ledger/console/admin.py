"""Administration pages: projects (the instance operator's) and a project's API keys.

The operator (signed in with ``API_KEY``) manages every project; a project's ``admin`` key
manages the keys of its own project only, and other projects do not exist for it (404)."""

from __future__ import annotations

from uuid import UUID

from prompt_ledger.auth import Scope
from prompt_ledger.bodies import KeyBody, PageQuery, ProjectBody
from prompt_ledger.console.web import Visit, endpoint, form_as, page, query_of, redirect
from prompt_ledger.errors import Forbidden, NotFound
from prompt_ledger.handlers.common import path_uuid
from prompt_ledger.http.endpoint import Reply


def _project_id(visit: Visit) -> UUID:
    project_id = path_uuid(visit.call, "project_id", "Project")
    if not visit.session.operator and project_id != visit.principal.project_id:
        raise NotFound(f"Project {project_id} not found.")
    return project_id


def _operator(visit: Visit) -> None:
    if not visit.session.operator:
        raise Forbidden("Only the instance operator (signed in with API_KEY) manages projects.")


@page(Scope.ADMIN)
async def admin(visit: Visit) -> Reply:
    if visit.session.operator:
        return redirect("/admin/projects")
    return redirect(f"/admin/projects/{visit.principal.project_id}")


@page(Scope.ADMIN)
async def projects(visit: Visit) -> Reply:
    _operator(visit)
    q = query_of(visit.request, PageQuery)
    found = await visit.call.app.access.list_projects(limit=q.limit, cursor=q.cursor)
    return visit.page("projects.html", found=found)


@page(Scope.ADMIN)
async def create_project(visit: Visit) -> Reply:
    _operator(visit)
    body = form_as(ProjectBody, {"name": visit.value("name")})
    project = await visit.call.app.access.create_project(body.name)
    return redirect(f"/admin/projects/{project.project_id}")


@page(Scope.ADMIN)
async def keys(visit: Visit) -> Reply:
    project_id = _project_id(visit)
    access, q = visit.call.app.access, query_of(visit.request, PageQuery)
    project = await access.get_project(project_id)
    found = await access.list_keys(project_id, limit=q.limit, cursor=q.cursor)
    return visit.page("keys.html", project=project, found=found, scopes=list(Scope))


@page(Scope.ADMIN)
async def create_key(visit: Visit) -> Reply:
    project_id = _project_id(visit)
    body = form_as(KeyBody, {"name": visit.value("name"), "scopes": visit.form.getlist("scopes")})
    access = visit.call.app.access
    created = await access.create_key(project_id, body)
    project = await access.get_project(project_id)
    return visit.page("key_created.html", status=201, project=project, created=created)


@page(Scope.ADMIN)
async def revoke_key(visit: Visit) -> Reply:
    project_id = _project_id(visit)
    key_id = path_uuid(visit.call, "key_id", "API key")
    await visit.call.app.access.revoke_key(project_id, key_id)
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
