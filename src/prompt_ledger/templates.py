"""Prompt templates: content, content hashing, declared variables and rendering.

Rendering always goes through the sandbox (sandbox.py); the server and the SDK use this same
module, so a preview, a local render and an execution render identically. Servers render off
the event loop (:func:`render_off_loop`), in a few threads of their own: a template using up its
budget delays no other request, and the process keeps answering (``/livez`` included).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError

from prompt_ledger.errors import MissingVariables, TemplateError, TemplateRefused
from prompt_ledger.sandbox import (
    MAX_RENDERED_CHARS,
    RENDER_SECONDS,
    RenderBudgetExceeded,
    parse,
    render_source,
    straight,
)

Role = Literal["system", "user", "assistant", "tool", "developer"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class PromptContent:
    """What a version is made of: a text template or chat messages, plus default model config."""

    template_source: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    model_defaults: Mapping[str, Any] | None = None

    @property
    def kind(self) -> Literal["text", "chat"]:
        return "chat" if self.messages is not None else "text"

    def sources(self) -> list[tuple[str, str]]:
        """(field location, template text) for every template in this content."""
        if self.messages is not None:
            return [(f"messages.{i}.content", m.content) for i, m in enumerate(self.messages)]
        return [("template_source", self.template_source or "")]

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "template_source": self.template_source,
            "messages": None
            if self.messages is None
            else [{"role": m.role, "content": m.content} for m in self.messages],
            "model_defaults": dict(self.model_defaults or {}),
        }

    def checksum(self) -> str:
        """SHA-256 of the canonical content: identical content always hashes the same."""
        blob = json.dumps(
            self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def declared_variables(content: PromptContent) -> list[str]:
    """Parse every template of ``content`` and return the variables they use, sorted.

    Raises TemplateError naming the field and line of the first syntax error.
    """
    names: set[str] = set()
    problems: list[dict[str, Any]] = []
    for loc, source in content.sources():
        try:
            ast = parse(source)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(
                {
                    "loc": ["body", *loc.split(".")],
                    "msg": exc.message or "syntax error",
                    "type": "template_syntax",
                    "line": exc.lineno,
                }
            )
            continue
        names |= meta.find_undeclared_variables(ast) & _required_names(ast)
    if problems:
        first = problems[0]
        raise TemplateError(
            f"Template syntax error in {'.'.join(map(str, first['loc'][1:]))} "
            f"at line {first['line']}: {first['msg']}",
            errors=problems,
        )
    return sorted(names)


def _required_names(ast: jinja2.nodes.Template) -> set[str]:
    """Names used at least once outside ``| default(...)`` and ``is defined`` guards: a variable
    only ever used with a fallback is optional, every other one is required."""
    guarded: set[int] = set()
    for node in ast.find_all((jinja2.nodes.Filter, jinja2.nodes.Test)):
        if node.name in {"default", "d", "defined", "undefined"} and isinstance(
            node.node, jinja2.nodes.Name
        ):
            guarded.add(id(node.node))
    for branch in ast.find_all(jinja2.nodes.If):
        test = branch.test
        if (
            isinstance(test, jinja2.nodes.Test)
            and test.name == "defined"
            and isinstance(test.node, jinja2.nodes.Name)
        ):
            for child in branch.body:
                guarded |= {
                    id(n) for n in child.find_all(jinja2.nodes.Name) if n.name == test.node.name
                }
    return {n.name for n in ast.find_all(jinja2.nodes.Name) if id(n) not in guarded}


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str | None
    messages: list[dict[str, str]] | None

    def as_text(self) -> str:
        """One string for ledgers and text-only providers."""
        if self.text is not None:
            return self.text
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages or [])


# Renders of one process run here, never on its event loop. A few threads: a template that uses
# up its budget holds one for at most its time budget.
_RENDERERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="render")


async def render_off_loop(
    content: PromptContent,
    variables: Mapping[str, Any],
    declared: Sequence[str],
    *,
    seconds: float = RENDER_SECONDS,
) -> Rendered:
    """:func:`render` in a render thread. Cancelling the caller (a client gone) leaves the
    render to stop at its budget. Templates of text and plain substitutions only
    (``sandbox.straight``) render at once on the caller's loop: handing them to a thread
    costs more than their render (a tenth of a sync run's CPU in the profile)."""
    if all(straight(source) for _, source in content.sources()):
        return _measured(content, variables, declared, seconds)
    job = functools.partial(_measured, content, variables, declared, seconds)
    return await asyncio.get_running_loop().run_in_executor(_RENDERERS, job)


def _measured(
    content: PromptContent, variables: Mapping[str, Any], declared: Sequence[str], seconds: float
) -> Rendered:
    # Imported here: the SDK renders locally with render() on its base install, which has no
    # prometheus-client; only the server's renders (off the loop) are metered.
    from prompt_ledger import metrics

    metrics.renders_running.inc()
    try:
        return render(content, variables, declared, seconds=seconds)
    except TemplateRefused:
        metrics.renders_stopped.inc()
        raise
    finally:
        metrics.renders_running.dec()


async def vet(content: PromptContent, declared: Sequence[str], *, seconds: float) -> None:
    """Refuse at save what the sandbox would refuse at every render: a template that needs no
    variable renders the same every time, so it is rendered once here, and refused (422) if
    the sandbox stops it or refuses something it does. With more time than a render gets, so
    that what decides is the step budget, the same on every machine, not this one's speed."""
    if declared:
        return
    try:
        await render_off_loop(content, {}, declared, seconds=seconds * 5)
    except TemplateRefused as exc:
        raise TemplateRefused(
            f"{exc.detail} It needs no variable, so every render would be refused: it is "
            "not saved.",
            errors=exc.errors,
        ) from None
    except TemplateError:
        pass  # e.g. a division by zero: the render endpoints report it


def render(
    content: PromptContent,
    variables: Mapping[str, Any],
    declared: Sequence[str],
    *,
    seconds: float = RENDER_SECONDS,
) -> Rendered:
    """Render ``content`` with ``variables`` in the sandbox, within ``seconds`` in all.

    Variables the templates use but the caller did not give are refused up front (422 naming
    them), before anything is rendered or any token is spent.
    """
    missing = [name for name in declared if name not in variables]
    if missing:
        raise MissingVariables(
            f"Missing template variables: {', '.join(missing)}",
            errors=[
                {
                    "loc": ["body", "variables", name],
                    "msg": "required by the template",
                    "type": "missing",
                }
                for name in missing
            ],
            missing=missing,
        )
    deadline = time.monotonic() + seconds  # one budget for all the messages

    def one(loc: str, source: str) -> str:
        return _render_one(loc, source, variables, max(0.0, deadline - time.monotonic()))

    if content.messages is not None:
        return Rendered(
            text=None,
            messages=[
                {"role": m.role, "content": one(f"messages.{i}.content", m.content)}
                for i, m in enumerate(content.messages)
            ],
        )
    return Rendered(text=one("template_source", content.template_source or ""), messages=None)


def _render_one(loc: str, source: str, variables: Mapping[str, Any], seconds: float) -> str:
    try:
        out = render_source(source, variables, seconds=seconds)
    except RenderBudgetExceeded as exc:
        raise TemplateRefused(
            f"Template {loc} exceeded its render budget and was stopped: {exc}.",
            errors=[{"loc": loc.split("."), "msg": str(exc), "type": "render_budget"}],
        ) from None
    except SecurityError as exc:
        raise TemplateRefused(f"Template {loc} attempted an unsafe operation: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(
            f"Template {loc} refers to something undefined: {exc.message}"
        ) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"Template {loc} failed to render: {exc}") from None
    except (TypeError, ValueError, LookupError, ArithmeticError, RecursionError) as exc:
        raise TemplateError(
            f"Template {loc} failed to render: {type(exc).__name__}: {exc}"
        ) from None
    if len(out) > MAX_RENDERED_CHARS:
        raise TemplateError(f"Template {loc} rendered more than {MAX_RENDERED_CHARS} characters")
    return out
