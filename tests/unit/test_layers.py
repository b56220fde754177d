"""Layering rules the import contracts (.importlinter, run by `make test`) cannot express."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "prompt_ledger"
READING = {"environ", "environb", "getenv", "getenvb"}
READERS = {
    "settings.py": "the settings: the one reader of the server's environment",
    "sdk/_base.py": "the SDK client's own configuration (PROMPT_LEDGER_URL, PROMPT_LEDGER_API_KEY)",
    "sdk/_sync.py": "the SDK's trace service name (OTEL_SERVICE_NAME, OpenTelemetry's variable)",
    "sdk/_async.py": "the same, async",
    "cli/failures.py": "DEBUG, read before the settings so that an invalid setting is explained",
    "cli/output.py": "COLUMNS: rich's terminal width, whether output is a pipe",
}


def reads_environment(source: str) -> bool:
    """``os.environ``, ``os.getenv`` or ``from os import environ/getenv``, anywhere."""
    for node in ast.walk(ast.parse(source)):
        attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if attribute and node.value.id == "os" and node.attr in READING:  # type: ignore[attr-defined]
            return True
        imported = isinstance(node, ast.ImportFrom) and node.module == "os"
        if imported and any(alias.name in READING for alias in node.names):  # type: ignore[attr-defined]
            return True
    return False


def test_settings_are_the_only_reader_of_the_environment() -> None:
    readers = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if reads_environment(path.read_text(encoding="utf-8"))
    }
    assert readers <= set(READERS), (
        "Read the environment through prompt_ledger.settings.Settings (a setting, a README "
        f"row, a line in .env.example), not directly: {sorted(readers - set(READERS))}"
    )


def test_the_check_sees_each_way_of_reading_it() -> None:
    assert reads_environment("import os\nos.environ['X']")
    assert reads_environment("import os\nos.getenv('X')")
    assert reads_environment("from os import environ")
    assert not reads_environment('"""no os.environ here"""\nimport os\nos.getpid()')


def test_the_sdk_renders_locally_on_its_base_install(tmp_path: Path) -> None:
    """`pip install prompt-ledger` (no server extra: no prometheus-client, no psycopg) renders a
    prompt with the server's sandboxed renderer."""
    from tests.base_install import install_folder

    folder = install_folder(tmp_path / "base")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from prompt_ledger import templates;"
        "content = templates.PromptContent(template_source='Hi {{ who }}');"
        "print(templates.render(content, {'who': 'there'}, ['who']).as_text())"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hi there"
