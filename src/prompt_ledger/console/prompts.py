"""Prompt pages: the list, a prompt (labels, history, versions), one version, a diff."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import Field

from prompt_ledger.auth import Scope
from prompt_ledger.bodies import (
    LABEL_PATTERN,
    Body,
    DiffQuery,
    PageQuery,
    PromptListQuery,
    VersionNumber,
)
from prompt_ledger.console.diffview import side_by_side
from prompt_ledger.console.web import Visit, endpoint, form_as, page, query_of, redirect
from prompt_ledger.handlers.common import prompt_name
from prompt_ledger.http.endpoint import Reply
from prompt_ledger.records import LabelEvent
from prompt_ledger.services.registry import defaults_text, template_text


def prompt_url(name: str, rest: str = "") -> str:
    return f"/prompts/{quote(name, safe='')}{rest}"


@page(Scope.PROMPTS_READ)
async def prompt_list(visit: Visit) -> Reply:
    q = query_of(visit.request, PromptListQuery)
    app = visit.call.app
    found = await app.registry.list_prompts(
        visit.principal,
        owner_team=q.owner_team,
        label=q.label,
        mode=q.mode,
        search=q.search,
        limit=q.limit,
        cursor=q.cursor,
    )
    filters = await app.browse.prompt_filters(visit.principal)
    return visit.page("prompts.html", found=found, q=q, filters=filters)


@page(Scope.PROMPTS_READ)
async def prompt_page(visit: Visit) -> Reply:
    name, registry, who = prompt_name(visit.call), visit.call.app.registry, visit.principal
    q = query_of(visit.request, PageQuery)
    prompt = await registry.get_prompt(who, name)
    versions = await registry.list_versions(who, name, limit=min(q.limit, 20), cursor=q.cursor)
    labels = await registry.list_labels(who, name)
    history = await registry.label_history(who, name, None, limit=20, cursor=None)
    latest: dict[str, LabelEvent] = {}  # the newest move of each label: the one a rollback undoes
    for event in history.items:
        latest.setdefault(event.label, event)
    return visit.page(
        "prompt.html",
        prompt=prompt,
        versions=versions,
        labels=labels,
        history=history,
        undoable={event.event_id for event in latest.values()},
        moved=visit.request.query_params.get("moved"),
    )


@page(Scope.PROMPTS_READ)
async def version_page(visit: Visit) -> Reply:
    name, number = prompt_name(visit.call), int(visit.call.path["number"])
    prompt = await visit.call.app.registry.get_prompt(visit.principal, name, version_number=number)
    return visit.page("version.html", prompt=prompt, version=prompt.version)


@page(Scope.PROMPTS_READ)
async def diff_page(visit: Visit) -> Reply:
    name, registry, who = prompt_name(visit.call), visit.call.app.registry, visit.principal
    prompt = await registry.get_prompt(who, name)
    versions = (await registry.list_versions(who, name, limit=200, cursor=None)).items
    if "from" not in visit.request.query_params and len(versions) >= 2:
        pair = DiffQuery.model_validate(
            {"from": versions[1].version_number, "to": versions[0].version_number}
        )
    elif "from" not in visit.request.query_params:
        return visit.page("diff.html", prompt=prompt, versions=versions, pair=None)
    else:
        pair = query_of(visit.request, DiffQuery)
    old = await registry.get_version(who, name, pair.from_)
    new = await registry.get_version(who, name, pair.to)
    return visit.page(
        "diff.html",
        prompt=prompt,
        versions=versions,
        pair=pair,
        old=old,
        new=new,
        template_rows=side_by_side(template_text(old), template_text(new)),
        defaults_rows=side_by_side(
            defaults_text(old.model_defaults), defaults_text(new.model_defaults)
        ),
    )


class MoveForm(Body):
    label: str = Field(pattern=LABEL_PATTERN)
    version: VersionNumber
    reason: str = Field(min_length=1, max_length=2000, description="Kept in the label history.")


@page(Scope.LABELS_PROMOTE)
async def move_label(visit: Visit) -> Reply:
    """Point a label at a version (a rollback is a move back), with a reason."""
    name = prompt_name(visit.call)
    move = form_as(
        MoveForm,
        {
            "label": visit.value("label_new") or visit.value("label"),
            "version": visit.value("version"),
            "reason": visit.value("reason"),
        },
    )
    await visit.call.app.registry.set_label(
        visit.principal, name, move.label, move.version, actor=visit.session.who, reason=move.reason
    )
    return redirect(prompt_url(name, f"?moved={quote(move.label)}#labels"))


@page(Scope.LABELS_PROMOTE)
async def activate(visit: Visit) -> Reply:
    name, number = prompt_name(visit.call), int(visit.call.path["number"])
    await visit.call.app.registry.activate(visit.principal, name, number)
    return redirect(prompt_url(name, "#versions"))


P = "/prompts/{name}"

ENDPOINTS = [
    endpoint("GET", "/prompts", prompt_list, "Prompts"),
    endpoint("GET", P, prompt_page, "A prompt: labels, history, versions"),
    endpoint("GET", P + "/versions/{number:int}", version_page, "One version"),
    endpoint("GET", P + "/diff", diff_page, "Side-by-side diff of two versions"),
    endpoint("POST", P + "/labels", move_label, "Move a label (or roll it back)"),
    endpoint("POST", P + "/versions/{number:int}/activate", activate, "Make a version active"),
]
