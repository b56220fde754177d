"""The docs and the code agree: every endpoint a function serves is in docs/api.md's endpoint
table, and every endpoint, environment variable, error class and import the README and docs/
mention exists in the code. Each failure says what to add, and where.

Functions are read from ``prompt_ledger.functions.FUNCTIONS`` (a function added there is
checked with no change here); settings from ``prompt_ledger.settings.Settings``."""

from __future__ import annotations

import builtins
import importlib
import re
from collections.abc import Iterator

import pytest

import prompt_ledger
from prompt_ledger import errors, startup
from prompt_ledger.functions import FUNCTIONS, build
from prompt_ledger.http.endpoint import Endpoint
from prompt_ledger.settings import Settings
from tests.docs.markdown import (
    ROOT,
    Code,
    Mention,
    code_in,
    doc_files,
    endpoint_mentions,
    environment_variables,
    error_classes,
    imports,
    shell_variables,
    table,
)

API_DOC = ROOT / "docs" / "api.md"
ENDPOINTS_HEADING = "## Endpoints"
EVERY_FUNCTION = "every function"
SETTINGS = {name.upper() for name in Settings.model_fields}
FOREIGN_VARIABLES = {
    # Read by other programs, named in the docs on purpose.
    "POSTGRES_PASSWORD": "the postgres image (infra/compose.yaml)",
    "POSTGRES_USER": "the postgres image",
    "POSTGRES_DB": "the postgres image",
    "GF_SECURITY_ADMIN_PASSWORD": "Grafana",
    "XDG_RUNTIME_DIR": "platformdirs, under the embedded PostgreSQL",
    "RAILWAY_TOKEN": "the railway CLI",
    "RAILWAY_API_TOKEN": "the railway CLI",
    "RAILWAY_CAC_DEPRECATION_WARNING": "the railway CLI",
    "PYTHONPATH": "Python",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "OpenTelemetry's exporters (docs/traces.md)",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "OpenTelemetry's exporters",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "OpenTelemetry's exporters",
    "OTEL_EXPORTER_OTLP_HEADERS": "OpenTelemetry's exporters",
}
"""Environment variables of other programs that the docs may name."""


async def _no_container() -> object:
    raise AssertionError("only the endpoint tables are read")


def served() -> dict[str, list[Endpoint]]:
    """Every function's endpoints, its operational ones (``/``, ``/health``, ...) included."""
    return {name: build(name, _no_container).endpoints for name in FUNCTIONS}  # type: ignore[arg-type]


def normal(path: str) -> str:
    """``{number:int}`` as the docs write it: ``{number}``."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def mentions() -> Iterator[Mention]:
    for path in doc_files():
        for code in code_in(path):
            yield from endpoint_mentions(code)


def codes() -> Iterator[Code]:
    for path in doc_files():
        yield from code_in(path)


# --- endpoints -------------------------------------------------------------------------------


def test_every_endpoint_is_documented() -> None:
    rows = {(r[0], r[1], r[2]) for r in table(API_DOC, ENDPOINTS_HEADING)}
    missing = []
    for function, endpoints in served().items():
        for e in endpoints:
            method, path = e.method, normal(e.path)
            if (function, method, path) not in rows and (EVERY_FUNCTION, method, path) not in rows:
                missing.append(f"| {function} | `{method}` | `{path}` | {e.summary} |")
    assert not missing, (
        f"docs/api.md does not document these endpoints: add these rows to the table under "
        f"'{ENDPOINTS_HEADING}' (and say more in the section of its function):\n"
        + "\n".join(missing)
    )


def test_the_endpoint_table_lists_only_what_is_served() -> None:
    functions = served()
    wrong = []
    for function, method, path, *_ in table(API_DOC, ENDPOINTS_HEADING):
        names = list(functions) if function == EVERY_FUNCTION else [function]
        for name in names:
            endpoints = functions.get(name, [])
            if not any(e.method == method and normal(e.path) == path for e in endpoints):
                wrong.append(f"{function} {method} {path}")
    assert not wrong, (
        "docs/api.md's endpoint table lists endpoints no function serves (the function column "
        "names a key of prompt_ledger.functions.FUNCTIONS, or 'every function'): "
        + ", ".join(wrong)
    )


def test_every_endpoint_the_docs_mention_exists() -> None:
    every = [e for endpoints in served().values() for e in endpoints]
    unknown = []
    for mention in mentions():
        if "…" in mention.path or "..." in mention.path:
            unknown.append(f"{mention.code.where()}: spell out the path of `{mention}`")
            continue
        if not _served(mention, every):
            unknown.append(f"{mention.code.where()}: `{mention}`")
    assert not unknown, (
        "The docs mention endpoints that no function serves; fix the docs, or add the "
        "endpoint to a function (prompt_ledger.functions.FUNCTIONS):\n" + "\n".join(unknown)
    )


def _served(mention: Mention, endpoints: list[Endpoint]) -> bool:
    """Each method mentioned is served on some variant of the path, and each variant is."""
    methods = mention.methods or tuple({e.method for e in endpoints})
    hits = {
        (method, variant)
        for method in methods
        for variant in mention.variants()
        for e in endpoints
        if e.method == method
        and e.match(re.sub(r"\{[^}]*\}|<[^>]*>", "1", variant).rstrip("/") or "/") is not None
    }
    return {m for m, _ in hits} >= (set(mention.methods) or {m for m, _ in hits}) and {
        v for _, v in hits
    } == set(mention.variants())


# --- settings and environment variables ------------------------------------------------------


CODE = [
    "src",
    "functions",
    "jobs",
    "schema",
    "infra",
    "bench",  # the benchmarks' own variables (BENCH_RESULTS, BENCH_LOOP, ...)
    "mutation",  # make mutate's (MUTATE_JOBS)
    ".railway",
    "render.yaml",
    "app.json",
    "Procfile",
    "Dockerfile",
    "Makefile",
]
"""Where the code that reads the environment is: the package and the deploy files."""


def _in_code(names: set[str]) -> set[str]:
    """Which of ``names`` occur, as words, in the code."""
    texts = []
    for entry in CODE:
        path = ROOT / entry
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        texts += [f.read_text(encoding="utf-8", errors="ignore") for f in files]
    code = "\n".join(texts)
    return {name for name in names if re.search(rf"\b{name}\b", code)}


def test_every_environment_variable_the_docs_mention_exists() -> None:
    mentioned: dict[str, set[str]] = {}
    for code in codes():
        local = shell_variables(code)
        for name in environment_variables(code) - local:
            mentioned.setdefault(name, set()).add(code.where())
    known = SETTINGS | set(FOREIGN_VARIABLES) | _in_code(set(mentioned))
    unknown = sorted(
        f"{where}: {name}" for name in mentioned.keys() - known for where in mentioned[name]
    )
    assert not unknown, (
        "The docs mention environment variables no code reads. Add a setting to "
        "prompt_ledger.settings.Settings (then to README.md's Configuration table and "
        ".env.example), or, for another program's variable, to FOREIGN_VARIABLES in "
        "tests/docs/test_docs_match_code.py:\n" + "\n".join(unknown)
    )


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    configuration = readme[readme.index("## Configuration") :]
    configuration = configuration[: configuration.index("\n## ", 1)]
    missing = sorted(name for name in SETTINGS if f"`{name}`" not in configuration)
    assert not missing, (
        "README.md's Configuration table does not list these settings: add a row "
        "(| `NAME` | default | meaning |) for each: " + ", ".join(missing)
    )


def test_env_example_has_every_setting() -> None:
    """.env.example: every setting once, commented out with its default, and nothing else."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assigned = [re.match(r"^#?\s?([A-Z][A-Z0-9_]*)=", line) for line in lines]
    names = [found.group(1) for found in assigned if found]
    missing = sorted(SETTINGS - set(names))
    unknown = sorted(set(names) - SETTINGS)
    assert not missing, f".env.example lacks these settings: add `# NAME=default` lines {missing}"
    assert not unknown, f".env.example sets what is not a setting (remove them): {unknown}"
    assert len(names) == len(set(names)), ".env.example names a setting twice"
    for line in lines:
        found = re.match(r"^# ([A-Z][A-Z0-9_]*)=(.*)$", line)
        if found is not None:
            shown = _as_env(Settings.model_fields[found.group(1).lower()].default)
            assert found.group(2) == shown, (
                f".env.example: write the default of {found.group(1)}: `# {found.group(1)}={shown}`"
            )


def _as_env(value: object) -> str:
    """A default as it is written in an environment file."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    secret = getattr(value, "get_secret_value", None)
    return str(secret() if secret else value)


# --- errors and imports -----------------------------------------------------------------------


def test_every_error_class_the_docs_mention_exists() -> None:
    unknown = []
    for path in doc_files():
        for name in sorted(error_classes(path)):
            places = (prompt_ledger, errors, startup, builtins)
            if not any(hasattr(place, name) for place in places):
                unknown.append(f"{path.relative_to(ROOT)}: {name}")
    assert not unknown, (
        "The docs name error classes that `from prompt_ledger import <name>` cannot import "
        "(nor are they server errors or builtins): export the SDK's from prompt_ledger.sdk and "
        "prompt_ledger/__init__.py, or fix the docs:\n" + "\n".join(unknown)
    )


def test_every_import_the_docs_show_works() -> None:
    broken = []
    for code in codes():
        for module, name in imports(code):
            if not hasattr(importlib.import_module(module), name):
                broken.append(f"{code.where()}: from {module} import {name}")
    assert not broken, "Imports in the docs that fail:\n" + "\n".join(broken)


def test_every_problem_type_in_the_docs_exists() -> None:
    slugs = {kind.slug for kind in _subclasses(errors.PromptLedgerError)}
    documented = set()
    for row in table(API_DOC, "## Errors"):
        documented |= set(re.findall(r"[a-z][a-z\-]+", row[1]))
    unknown = sorted(documented - slugs)
    assert not unknown, f"docs/api.md's error table lists problem types no error has: {unknown}"
    undocumented = sorted(slugs - documented - {"internal"})
    assert not undocumented, (
        "docs/api.md's error table (## Errors) lacks these problem types: add a row "
        f"(| status | `type` | when |) for each: {undocumented}"
    )


def _subclasses(kind: type[errors.PromptLedgerError]) -> Iterator[type[errors.PromptLedgerError]]:
    yield kind
    for sub in kind.__subclasses__():
        yield from _subclasses(sub)


@pytest.mark.parametrize("name", sorted(set(prompt_ledger.__all__) - {"__version__"}))
def test_every_public_name_imports_from_the_package(name: str) -> None:
    assert getattr(prompt_ledger, name) is not None
