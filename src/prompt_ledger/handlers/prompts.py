"""Registry endpoints: prompts, versions, labels, tracking registration, render preview."""

from __future__ import annotations

from prompt_ledger.auth import Scope
from prompt_ledger.bodies import (
    ActivateBody,
    DiffQuery,
    DiffResponse,
    HistoryQuery,
    LabelBody,
    LabelHistoryPage,
    LabelsResponse,
    PageQuery,
    PromptListQuery,
    PromptPage,
    PromptQuery,
    PromptView,
    PutPromptBody,
    PutPromptResult,
    RegisterBody,
    RegisterResponse,
    RemoveLabelQuery,
    RenderBody,
    RenderResponse,
    ResolveBody,
    ResolveResponse,
    VersionPage,
)
from prompt_ledger.handlers.common import label_name, prompt_name, version_number
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.records import Version


async def put_prompt(call: Call) -> Reply:
    result = await call.app.registry.put_prompt(
        call.principal, prompt_name(call), call.body_as(PutPromptBody).asked()
    )
    return Reply(result, status=201 if result.created else 200)


async def get_prompt(call: Call) -> Reply:
    q = call.query_as(PromptQuery)
    body = await call.app.registry.get_prompt_json(
        call.principal, prompt_name(call), label=q.label, version_number=q.version
    )
    return Reply(body)


async def list_prompts(call: Call) -> Reply:
    q = call.query_as(PromptListQuery)
    page = await call.app.registry.list_prompts(
        call.principal,
        owner_team=q.owner_team,
        label=q.label,
        mode=q.mode,
        search=q.search,
        limit=q.limit,
        cursor=q.cursor,
    )
    return Reply(page)


async def list_versions(call: Call) -> Reply:
    q = call.query_as(PageQuery)
    return Reply(
        await call.app.registry.list_versions(
            call.principal, prompt_name(call), limit=q.limit, cursor=q.cursor
        )
    )


async def get_version(call: Call) -> Reply:
    return Reply(
        await call.app.registry.get_version(call.principal, prompt_name(call), version_number(call))
    )


async def diff(call: Call) -> Reply:
    q = call.query_as(DiffQuery)
    return Reply(await call.app.registry.diff(call.principal, prompt_name(call), q.from_, q.to))


async def activate(call: Call) -> Reply:
    call.body_as(ActivateBody)
    return Reply(
        await call.app.registry.activate(call.principal, prompt_name(call), version_number(call))
    )


async def archive(call: Call) -> Reply:
    return Reply(
        await call.app.registry.archive(call.principal, prompt_name(call), version_number(call))
    )


async def list_labels(call: Call) -> Reply:
    labels = await call.app.registry.list_labels(call.principal, prompt_name(call))
    return Reply(LabelsResponse(labels=labels))


async def set_label(call: Call) -> Reply:
    body = call.body_as(LabelBody)
    labels = await call.app.registry.set_label(
        call.principal,
        prompt_name(call),
        label_name(call),
        body.version,
        actor=body.actor,
        reason=body.reason,
    )
    return Reply(LabelsResponse(labels=labels))


async def remove_label(call: Call) -> Reply:
    q = call.query_as(RemoveLabelQuery)
    await call.app.registry.remove_label(
        call.principal, prompt_name(call), label_name(call), q.actor, q.reason
    )
    return Reply(None, status=204)


async def label_history(call: Call) -> Reply:
    q = call.query_as(HistoryQuery)
    return Reply(
        await call.app.registry.label_history(
            call.principal, prompt_name(call), q.label, limit=q.limit, cursor=q.cursor
        )
    )


async def register(call: Call) -> Reply:
    body = call.body_as(RegisterBody)
    results = await call.app.registry.register(
        call.principal, [item.asked() for item in body.prompts], body.created_by
    )
    return Reply(RegisterResponse(prompts=results))


async def resolve(call: Call) -> Reply:
    refs = [item.asked() for item in call.body_as(ResolveBody).prompts]
    return Reply(
        ResolveResponse(prompts=await call.app.registry.resolve_many(call.principal, refs))
    )


async def render(call: Call) -> Reply:
    body = call.body_as(RenderBody)
    name = prompt_name(call)
    version, rendered = await call.app.registry.render(
        call.principal, name, body.variables, label=body.label, version_number=body.version
    )
    return Reply(
        RenderResponse(
            name=name,
            version_number=version.version_number,
            kind=version.kind,
            text=rendered.text,
            messages=rendered.messages,
            variables=version.variables,
        )
    )


READ, WRITE, PROMOTE = Scope.PROMPTS_READ, Scope.PROMPTS_WRITE, Scope.LABELS_PROMOTE
P = "/v1/prompts/{name}"

ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/prompts",
        list_prompts,
        "List prompts",
        READ,
        query=PromptListQuery,
        response=PromptPage,
    ),
    Endpoint(
        "POST",
        "/v1/prompts:register",
        register,
        "Register code-defined prompts (tracking mode)",
        WRITE,
        body=RegisterBody,
        response=RegisterResponse,
    ),
    Endpoint(
        "POST",
        "/v1/prompts:resolve",
        resolve,
        "Resolve many prompts in one round trip",
        READ,
        body=ResolveBody,
        response=ResolveResponse,
    ),
    Endpoint(
        "PUT",
        P,
        put_prompt,
        "Create or update a prompt (new version if content changed)",
        WRITE,
        body=PutPromptBody,
        response=PutPromptResult,
        status=201,
        also=(200,),  # the content already existed: no new version (dedup)
    ),
    Endpoint(
        "GET",
        P,
        get_prompt,
        "Get a prompt and its resolved version",
        READ,
        query=PromptQuery,
        response=PromptView,
    ),
    Endpoint(
        "POST",
        P + ":render",
        render,
        "Render a version with variables (no LLM call)",
        READ,
        body=RenderBody,
        response=RenderResponse,
        unstored=("variables",),
    ),
    Endpoint(
        "GET",
        P + "/versions",
        list_versions,
        "List versions, newest first",
        READ,
        query=PageQuery,
        response=VersionPage,
    ),
    Endpoint(
        "GET", P + "/versions/{number:int}", get_version, "Get one version", READ, response=Version
    ),
    Endpoint(
        "POST",
        P + "/versions/{number:int}:activate",
        activate,
        "Make a version active (rollback)",
        PROMOTE,
        body=ActivateBody,
        response=PromptView,
    ),
    Endpoint(
        "POST",
        P + "/versions/{number:int}:archive",
        archive,
        "Archive a version",
        WRITE,
        response=Version,
    ),
    Endpoint(
        "GET", P + "/diff", diff, "Diff two versions", READ, query=DiffQuery, response=DiffResponse
    ),
    Endpoint("GET", P + "/labels", list_labels, "List labels", READ, response=LabelsResponse),
    Endpoint(
        "GET",
        P + "/labels/history",
        label_history,
        "Label move history",
        READ,
        query=HistoryQuery,
        response=LabelHistoryPage,
    ),
    Endpoint(
        "PUT",
        P + "/labels/{label}",
        set_label,
        "Set or move a label",
        PROMOTE,
        body=LabelBody,
        response=LabelsResponse,
    ),
    Endpoint(
        "DELETE",
        P + "/labels/{label}",
        remove_label,
        "Remove a label",
        PROMOTE,
        query=RemoveLabelQuery,
        status=204,
    ),
]
