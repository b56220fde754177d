"""A folder of template files, one prompt per file, for ``prompts push`` and ``prompts pull``.

The file's stem is the prompt's name. ``.j2``, ``.jinja``, ``.txt`` and ``.md`` files are text
templates; ``.json`` files are chat prompts: a list of ``{"role": ..., "content": ...}``
messages (or ``{"messages": [...]}``). Hidden files and other suffixes are ignored.

A text file's final newline is not part of the template (editors add one); ``pull`` writes it
back, so push → pull → push round-trips exactly."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prompt_ledger.cli.failures import CLIError, ExitCode

TEXT_SUFFIXES = (".j2", ".jinja", ".txt", ".md")
CHAT_SUFFIXES = (".json",)
SUFFIXES = TEXT_SUFFIXES + CHAT_SUFFIXES
Kind = Literal["text", "chat"]
Messages = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class TemplateFile:
    name: str
    path: Path
    template: str | Messages

    @property
    def kind(self) -> Kind:
        return "text" if isinstance(self.template, str) else "chat"


def invalid(path: Path, why: str) -> CLIError:
    return CLIError(f"{path}: {why}", ExitCode.VALIDATION)


def template_paths(folder: Path) -> list[Path]:
    """The template files of ``folder`` (not its subfolders), in name order; two files for one
    prompt name are refused."""
    paths = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUFFIXES
    )
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise invalid(path, f"prompt {path.stem!r} is also defined by {seen[path.stem].name}")
        seen[path.stem] = path
    if not paths:
        raise CLIError(f"{folder}: no template files ({', '.join(SUFFIXES)})", ExitCode.VALIDATION)
    return paths


def read(path: Path) -> TemplateFile:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise invalid(path, "not UTF-8 text") from None
    except OSError as exc:
        raise invalid(path, exc.strerror or str(exc)) from None
    if path.suffix.lower() in CHAT_SUFFIXES:
        return TemplateFile(path.stem, path, _messages(path, text))
    return TemplateFile(path.stem, path, text.removesuffix("\n"))


def _messages(path: Path, text: str) -> Messages:
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise invalid(path, f"invalid JSON: {exc}") from None
    if isinstance(data, Mapping):
        data = data.get("messages")
    ok = (
        isinstance(data, list)
        and bool(data)
        and all(
            isinstance(m, Mapping)
            and set(m) == {"role", "content"}
            and all(isinstance(v, str) for v in m.values())
            for m in data
        )
    )
    if not ok:
        raise invalid(path, 'expected a list of {"role": "...", "content": "..."} chat messages')
    return [{"role": m["role"], "content": m["content"]} for m in data]


def content(template: str | Sequence[Mapping[str, str]]) -> str:
    """The file text of a template (the inverse of :func:`read`)."""
    if isinstance(template, str):
        return template + "\n"
    messages = [{"role": m["role"], "content": m["content"]} for m in template]
    return json.dumps(messages, indent=2, ensure_ascii=False) + "\n"


def target(folder: Path, name: str, kind: Kind) -> Path:
    """Where ``pull`` writes prompt ``name``: the existing file of that name and kind (so a
    pushed folder is updated in place), else ``name.j2`` or ``name.json``."""
    suffixes = TEXT_SUFFIXES if kind == "text" else CHAT_SUFFIXES
    for suffix in suffixes:
        for candidate in (folder / f"{name}{suffix}", folder / f"{name}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return folder / f"{name}{suffixes[0]}"
