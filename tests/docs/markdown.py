"""What the docs mention, read from their Markdown: code (inline spans and fenced blocks) with
the file and line it is on, endpoint mentions, environment variables, error classes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METHODS = "GET|HEAD|POST|PUT|PATCH|DELETE"
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.M | re.S)
_SPAN = re.compile(r"`([^`\n]+)`")
_PATH_CHARS = r"[^\s`'\"|,()]*"
_API_PATH = rf"/(?:v1|api)/{_PATH_CHARS}|/(?:health|livez|metrics|openapi\.json|docs)\b"
_WITH_METHOD = re.compile(rf"\b((?:{METHODS})(?:/(?:{METHODS}))*)\s+((?:…|\.\.\.)?/{_PATH_CHARS})")
_BARE = re.compile(rf"(?<![\w$}}.:/\-])({_API_PATH})")
_URL = re.compile(rf"(?:\$URL|\$\{{URL\}}|https?://[\w.\-]+(?::\d+)?)((?:{_API_PATH})?)")
_ENV = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b[A-Z][A-Z0-9_]*(?==)")
_ERROR = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b")
_IMPORT = re.compile(r"^\s*from (prompt_ledger[\w.]*) import ([\w, ()\n]+?)(?:\n\n|\n(?!\s))", re.M)


def doc_files() -> list[Path]:
    """README.md, CONTRIBUTING.md and every page of docs/."""
    return [
        path
        for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(ROOT.glob("docs/*.md"))]
        if path.is_file()
    ]


@dataclass(frozen=True)
class Code:
    """A piece of code in a doc: an inline span or a fenced block."""

    file: str
    line: int
    text: str
    language: str = ""
    """The fenced block's language (``bash``, ``python``, ...); empty for inline code."""

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def code_in(path: Path) -> Iterator[Code]:
    text = path.read_text(encoding="utf-8")
    name = str(path.relative_to(ROOT))
    for block in _FENCE.finditer(text):
        line = text.count("\n", 0, block.start(2)) + 1
        yield Code(name, line, block.group(2), block.group(1).strip())
    prose = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for span in _SPAN.finditer(prose):
        yield Code(name, prose.count("\n", 0, span.start()) + 1, span.group(1))


@dataclass(frozen=True)
class Mention:
    """``methods`` (empty: any) and a path as written: ``{x}``/``<x>`` placeholders, ``[...]``
    optional parts, a query string."""

    code: Code
    methods: tuple[str, ...]
    path: str

    def __str__(self) -> str:
        return f"{'/'.join(self.methods)} {self.path}".strip()

    def variants(self) -> list[str]:
        """The path with and without each optional ``[...]`` part, without its query."""
        paths = [self.path.split("?", 1)[0].rstrip(".:")]
        while True:  # a "[" with no "]" is left as it is (it ends the loop)
            expanded = []
            for path in paths:
                found = re.search(r"\[([^\[\]]*)\]", path)
                if found is None:
                    expanded.append(path)
                    continue
                head, tail = path[: found.start()], path[found.end() :]
                expanded += [head + tail, head + found.group(1) + tail]
            if expanded == paths:
                return paths
            paths = expanded


def endpoint_mentions(code: Code) -> Iterator[Mention]:
    taken: list[tuple[int, int]] = []
    for found in _WITH_METHOD.finditer(code.text):
        taken.append(found.span(2))
        yield Mention(code, tuple(found.group(1).split("/")), found.group(2))
    for pattern in (_URL, _BARE):
        for found in pattern.finditer(code.text):
            if found.group(1) and not any(a <= found.start(1) < b for a, b in taken):
                taken.append(found.span(1))
                yield Mention(code, (), found.group(1))


def environment_variables(code: Code) -> set[str]:
    """Names of environment variables in ``code``: UPPER_SNAKE_CASE words, and any uppercase
    name assigned with ``=``; not in Python code, not a quoted string (``"USER_SUMMARY"``)."""
    if code.language == "python":
        return set()
    return {
        found.group(0)
        for found in _ENV.finditer(code.text)
        if not (code.text[found.start() - 1 : found.start()] == '"' == code.text[found.end() :][:1])
    }


def shell_variables(code: Code) -> set[str]:
    """Variables a shell example sets for itself and reads back as ``$NAME``."""
    assigned = set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", code.text))
    return {name for name in assigned if re.search(rf"\$\{{?{name}\b", code.text)}


def error_classes(path: Path) -> set[str]:
    return set(_ERROR.findall(path.read_text(encoding="utf-8")))


def imports(code: Code) -> Iterator[tuple[str, str]]:
    """``(module, name)`` of each ``from prompt_ledger... import name`` in ``code``."""
    for found in _IMPORT.finditer(code.text + "\n\n"):
        for name in re.split(r"[\s,()]+", found.group(2)):
            if name:
                yield found.group(1), name


def table(path: Path, heading: str) -> list[list[str]]:
    """The rows of the first table after ``heading``, cells stripped of spaces and backticks."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    rows: list[list[str]] = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]
        if not all(set(c) <= set("-: ") for c in cells):
            rows.append(cells)
    return rows[1:]  # without the header
