"""The async client is a twin of the sync one: same methods, same parameters, awaitable; and
importing the SDK loads nothing of the server."""

from __future__ import annotations

import inspect
import subprocess
import sys

from prompt_ledger import AsyncPromptLedger, PromptLedger

LIFECYCLE = {"aclose"}  # async-only spelling (``close`` exists on both)


def public(cls: type) -> dict[str, object]:
    """Public members, the mixins' (executions, admin) included."""
    return {
        name: member
        for klass in reversed(cls.__mro__[:-1])
        for name, member in vars(klass).items()
        if not name.startswith("_") and name not in LIFECYCLE
    }


def parameters(member: object) -> list[tuple[str, object, object]]:
    signature = inspect.signature(member)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_the_async_client_has_the_same_surface() -> None:
    sync, asynchronous = public(PromptLedger), public(AsyncPromptLedger)
    assert sorted(sync) == sorted(asynchronous)
    for name, member in sync.items():
        twin = asynchronous[name]
        if isinstance(member, property):
            assert isinstance(twin, property), name
            continue
        assert parameters(member) == parameters(twin), name
        awaitable = inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin)
        assert awaitable != (name == "clear_cache"), name
    assert parameters(PromptLedger.__init__) == parameters(AsyncPromptLedger.__init__)


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


SERVER_MODULES = (
    "starlette",
    "uvicorn",
    "psycopg",
    "psycopg_pool",
    "pydantic_settings",
    "procrastinate",
    "openai",
    "anthropic",
    "functions_framework",
    "prompt_ledger.settings",
    "prompt_ledger.db",
    "prompt_ledger.auth",
    "prompt_ledger.bodies",
    "prompt_ledger.container",
)


def test_importing_the_package_is_cheap() -> None:
    loaded = run_python(
        "import sys, prompt_ledger; "
        "print(sorted(m for m in ('httpx', 'pydantic', 'jinja2') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_the_sdk_imports_nothing_of_the_server() -> None:
    statement = "from prompt_ledger import PromptLedger, AsyncPromptLedger"
    loaded = run_python(
        f"import sys; {statement}; "
        f"print(sorted(m for m in sys.modules if m.startswith({SERVER_MODULES!r})))"
    )
    assert loaded == "[]"
    assert run_python(f"{statement}; import sys; print('jinja2' in sys.modules)") == "False"
