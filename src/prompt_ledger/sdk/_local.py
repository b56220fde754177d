"""Local rendering with the server's own sandboxed renderer (:mod:`prompt_ledger.templates`),
so a prompt rendered by the SDK is byte-for-byte what the server would render. Imported on
first use (by :mod:`prompt_ledger.sdk.types`, which it does not import): jinja2 is not loaded
until something is rendered."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from prompt_ledger import errors as domain
from prompt_ledger import records, templates
from prompt_ledger.sdk.errors import error_from_problem

R = TypeVar("R")


def _as_sdk_error(call: Callable[[], R]) -> R:
    """Run ``call``; a domain error becomes the exception the server's answer would map to."""
    try:
        return call()
    except domain.PromptLedgerError as exc:
        raise error_from_problem(exc.status, exc.to_problem()) from None


def content_of(version: records.Version) -> templates.PromptContent:
    return templates.PromptContent(
        template_source=version.template_source,
        messages=None
        if version.messages is None
        else tuple(templates.ChatMessage(m.role, m.content) for m in version.messages),
        model_defaults=version.model_defaults,
    )


def render(version: records.Version, variables: Mapping[str, Any]) -> templates.Rendered:
    """``version`` rendered with ``variables``, as the server renders it."""
    content = content_of(version)
    return _as_sdk_error(lambda: templates.render(content, variables, version.variables))


def declared(version: records.Version) -> tuple[list[str], str]:
    """The variables ``version``'s content declares, and its checksum, as the server computes
    them."""
    content = content_of(version)
    return _as_sdk_error(lambda: templates.declared_variables(content)), content.checksum()
