"""Local rendering with the server's own sandboxed renderer (:mod:`prompt_ledger.templates`),
so a prompt rendered by the SDK is byte-for-byte what the server would render. Imported on
first use: jinja2 is not loaded until something is rendered."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from prompt_ledger import errors as domain
from prompt_ledger import templates
from prompt_ledger.sdk.errors import error_from_problem
from prompt_ledger.sdk.types import EPOCH, NO_ID, Message, RenderResult, Version

R = TypeVar("R")


def _as_sdk_error(call: Callable[[], R]) -> R:
    """Run ``call``; a domain error becomes the exception the server's answer would map to."""
    try:
        return call()
    except domain.PromptLedgerError as exc:
        raise error_from_problem(exc.status, exc.to_problem()) from None


def content_of(version: Version) -> templates.PromptContent:
    return templates.PromptContent(
        template_source=version.template_source,
        messages=None
        if version.messages is None
        else tuple(templates.ChatMessage(m.role, m.content) for m in version.messages),
        model_defaults=version.model_defaults,
    )


def render_version(name: str, version: Version, variables: Mapping[str, Any]) -> RenderResult:
    content = content_of(version)
    rendered = _as_sdk_error(lambda: templates.render(content, variables, version.variables))
    return RenderResult(
        name=name,
        version_number=version.version_number,
        kind=version.kind,
        text=rendered.text,
        messages=rendered.messages,
        variables=list(version.variables),
    )


def fallback_version(fallback: str | Sequence[Mapping[str, str]]) -> Version:
    """Version 0: not from the server, built from the caller's fallback content."""
    if isinstance(fallback, str):
        template_source: str | None = fallback
        messages: list[Message] | None = None
    else:
        template_source = None
        messages = [Message.model_validate(dict(m)) for m in fallback]
    version = Version(
        version_id=NO_ID,
        prompt_id=NO_ID,
        version_number=0,
        kind="text" if messages is None else "chat",
        template_source=template_source,
        messages=messages,
        variables=[],
        checksum_hash=hashlib.sha256(b"").hexdigest(),
        status="active",
        created_at=EPOCH,
    )
    content = content_of(version)
    declared = _as_sdk_error(lambda: templates.declared_variables(content))
    return version.model_copy(update={"variables": declared, "checksum_hash": content.checksum()})
