"""README.md's "## Python SDK" example, run as it is (the only setup is the environment it reads:
PROMPT_LEDGER_URL and PROMPT_LEDGER_API_KEY) with ONE URL: the gateway's, or the registry's or
the executions' URL of a per-function deploy (each function forwards what the other serves)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompt_ledger import PromptLedger
from tests.conftest import DEV_KEY

README = Path(__file__).resolve().parents[2] / "README.md"


def python_block(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    after = text[text.index(f"\n{heading}\n") :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("```", start)]


def test_the_readme_sdk_example_runs(
    one_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROMPT_LEDGER_URL", one_url)
    monkeypatch.setenv("PROMPT_LEDGER_API_KEY", DEV_KEY)
    namespace: dict[str, object] = {"__name__": "readme"}
    try:
        exec(compile(python_block("## Python SDK"), "README.md", "exec"), namespace)
    finally:
        ledger = namespace.get("ledger")
        if isinstance(ledger, PromptLedger):
            ledger.close()  # an application keeps its client; the test closes it
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("[demo provider")  # the response text, then cost and tokens
    assert " 0.00000000 " in "\n".join(printed)  # the demo's cost, in fixed point (not 0E-8)
    assert "succeeded" in printed
    assert "Hello Eve! Welcome to PromptLedger." in printed
    assert printed[-1] == "404 Prompt 'missing' not found."
