"""What ``pip install prompt-ledger`` (or ``prompt-ledger[server]``) puts on ``sys.path``, built
from this virtualenv without installing anything: a folder of links to the distributions of the
dependency closure (their import packages and ``.dist-info``), and nothing else.

``python -S`` (no site-packages) with that folder first on ``sys.path`` then runs our code as a
user of that install would: an extra that is not there cannot be imported, and the installed
metadata says what it would bring."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "prompt-ledger"


def closure(extras: Sequence[str]) -> set[str]:
    """Canonical names of the distributions ``prompt-ledger[extras]`` installs."""
    found: set[str] = set()
    pending: list[tuple[str, tuple[str, ...]]] = [(PACKAGE, tuple(extras))]
    while pending:
        name, wanted = pending.pop()
        key = canonicalize_name(name)
        if key in found and not wanted:
            continue
        found.add(key)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in ("", *wanted)]
            if requirement.marker is not None and not any(
                requirement.marker.evaluate(env) for env in environments
            ):
                continue
            if canonicalize_name(requirement.name) == canonicalize_name(PACKAGE):
                pending.append((PACKAGE, tuple(requirement.extras)))
            elif canonicalize_name(requirement.name) not in found:
                pending.append((requirement.name, tuple(requirement.extras)))
    return found


def install_folder(target: Path, extras: Sequence[str] = ()) -> Path:
    """Links to what ``prompt-ledger[extras]`` installs, in ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in closure(extras):
        dist = importlib.metadata.distribution(name)
        if canonicalize_name(dist.metadata["Name"]) == PACKAGE:  # editable: link the source
            _link(target, ROOT / "src" / "prompt_ledger")
        for file in dist.files or []:
            top = file.parts[0]
            if top in {"..", "__pycache__"} or top.endswith(".pth"):
                continue
            _link(target, Path(str(dist.locate_file(top))))
    return target


def _link(target: Path, source: Path) -> None:
    link = target / source.name
    if source.exists() and not link.exists():
        link.symlink_to(source, target_is_directory=source.is_dir())


def run_cli(
    folder: Path, args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``promptledger ARGS`` on that install (``python -S``: no site-packages)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from prompt_ledger.cli import main; sys.argv[0] = 'promptledger'; main()"
    )
    return subprocess.run(
        [sys.executable, "-S", "-c", code, str(folder), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
