"""Readers for the deploy files, each returning plain data to compare with the catalogue.

PyYAML and railway-sdk ship no type information; they are imported dynamically so their values
are ``Any`` at this boundary and typed everywhere else."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
RENDER_PREFIX = "promptledger-"
APP_IMAGE = "promptledger:local"  # the compose services built from the Dockerfile


def load_yaml(path: Path) -> Any:
    yaml = importlib.import_module("yaml")
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    return cast(dict[str, Any], load_yaml(INFRA / "compose.yaml"))


def render() -> dict[str, Any]:
    return cast(dict[str, Any], load_yaml(ROOT / "render.yaml"))


def app_json() -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((ROOT / "app.json").read_text()))


def railway_graph() -> dict[str, Any]:
    """``.railway/railway.py`` evaluated as the Railway CLI does (``evaluate_python`` in its
    ``src/iac/eval.rs``): load the file by path, call ``main()`` with no argument, render
    ``to_graph()``; offline."""
    path = ROOT / ".railway" / "railway.py"
    spec = importlib.util.spec_from_file_location("railway_iac_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    project = module.main()
    return cast(dict[str, Any], project.to_graph())


def railway_legacy_files() -> dict[str, dict[str, Any]]:
    """Per-service Config as Code files (legacy services only), by service name."""
    return {
        path.name.removesuffix(".railway.toml"): tomllib.loads(path.read_text())
        for path in sorted((INFRA / "railway").glob("*.toml"))
    }


def procfile() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kind, _, command = line.partition(":")
        assert kind not in entries, f"duplicate Procfile process type {kind}"
        entries[kind.strip()] = command.strip()
    return entries


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    argument: str


def dockerfile() -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined, numbered by build stage."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions: list[Instruction] = []
    stage = -1
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword, " ".join(argument.split())))
    return instructions


def exec_form(argument: str) -> list[str]:
    """The JSON (exec form) argument of CMD/ENTRYPOINT/HEALTHCHECK CMD."""
    value = json.loads(argument)
    assert isinstance(value, list), argument
    return [str(part) for part in value]


def words(command: str) -> tuple[str, ...]:
    return tuple(shlex.split(command))


def dockerignore_includes(path: str) -> bool:
    """Docker's .dockerignore semantics, for the patterns used here: the last matching pattern
    wins, and a pattern matching a parent directory matches everything inside it."""
    from fnmatch import fnmatchcase

    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if glob.startswith("**/"):
            hit = any(fnmatchcase(part, glob[3:]) for part in parts)
        else:
            hit = any(fnmatchcase(candidate, glob) for candidate in candidates)
        if hit:
            included = negated
    return included
