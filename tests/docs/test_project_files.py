"""The files a project is expected to have, and that they say what the project does: the
license pyproject.toml declares, pre-commit hooks running what ``make test`` runs."""

from __future__ import annotations

import tomllib

from tests.deploy.files import load_yaml
from tests.docs.markdown import ROOT


def test_the_license_is_the_one_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_pre_commit_runs_the_checks_of_make_test() -> None:
    config = load_yaml(ROOT / ".pre-commit-config.yaml")
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "mypy"}
    assert all(hook["language"] == "system" for hook in hooks.values())
    makefile = (ROOT / "Makefile").read_text()
    for tool in ("ruff check", "ruff format", "mypy"):
        assert f"$(BIN)/{tool}" in makefile, f"make test no longer runs {tool}"
    assert hooks["ruff"]["entry"].startswith(".venv/bin/ruff check")
    assert hooks["ruff-format"]["entry"] == ".venv/bin/ruff format"
    assert hooks["mypy"]["entry"] == ".venv/bin/mypy"
    assert hooks["mypy"]["pass_filenames"] is False  # the whole project, as make test checks it
