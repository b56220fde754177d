"""A prompt's content: validated and hashed for a new version, rebuilt from a stored version
(for rendering), and shown as text (for diffs and the console)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prompt_ledger import templates
from prompt_ledger.records import Version


@dataclass(frozen=True, slots=True)
class NewContent:
    """Content offered for a new version, validated and hashed."""

    content: templates.PromptContent
    variables: list[str]
    checksum: str

    @classmethod
    def of(
        cls,
        template_source: str | None,
        messages: Sequence[templates.ChatMessage] | None,
        model_defaults: dict[str, Any] | None,
    ) -> NewContent:
        content = templates.PromptContent(
            template_source=template_source,
            messages=None if messages is None else tuple(messages),
            model_defaults=model_defaults or {},
        )
        return cls(content, templates.declared_variables(content), content.checksum())


def content_of(version: Version) -> templates.PromptContent:
    return templates.PromptContent(
        template_source=version.template_source,
        messages=None
        if version.messages is None
        else tuple(templates.ChatMessage(m.role, m.content) for m in version.messages),
        model_defaults=version.model_defaults,
    )


def template_text(version: Version) -> str:
    if version.messages is not None:
        return "".join(f"[{m.role}]\n{m.content}\n" for m in version.messages)
    return version.template_source or ""


def defaults_text(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def unified(old: str, new: str, from_number: int, to_number: int) -> str:
    """A unified diff; a missing final newline is marked the way diff(1) marks it, so the last
    lines of both sides never run together."""

    def lines(text: str) -> list[str]:
        found = text.splitlines(keepends=True)
        if found and not found[-1].endswith("\n"):
            found[-1] += "\n\\ No newline at end of file\n"
        return found

    return "".join(
        difflib.unified_diff(
            lines(old),
            lines(new),
            fromfile=f"v{from_number}",
            tofile=f"v{to_number}",
        )
    )
