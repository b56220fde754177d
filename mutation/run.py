"""`make mutate`: mutmut over the core, then one mutation score per module.

    python mutation/run.py [MODULE ...]      # e.g. auth cache services providers

A MODULE is a dotted name under prompt_ledger (`auth`, `services`, `services.executions`,
`db.store`); without one, every module of CORE is tested. mutmut's configuration (which files
are mutated, which tests run) is `[tool.mutmut]` in pyproject.toml; its work lands in mutants/
and is reused by the next run (only changed functions are tested again; `rm -rf mutants` for a
clean run).

The tests need PostgreSQL: the server DATABASE_URL points at, or else an embedded one started
here for the run. One migrated template database is made here and shared by every mutant's test
session (PROMPTLEDGER_TEST_TEMPLATE_DB, read by tests/conftest.py), so no mutant pays for the
migrations.

The score of a module is killed / total: killed counts the mutants a test failed on (or that
hung, or that mypy rejects: mypy strict is part of `make test`); total counts every mutant that
was checked, those that survived and those no selected test calls ("no tests") included.
Mutants listed in mutation/equivalents.md (equivalent to the original, or not worth a test: one
line each on why) are shown in their own column and left out of the last one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "mutation" / "equivalents.md"
CORE = (
    "services",
    "sandbox",
    "templates",
    "auth",
    "cache",
    "providers",
    "queue",
    "db.store",
)
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}
UNCHECKED = {"not checked", "check was interrupted by user", "skipped"}
RESULT = re.compile(r"^\s+(?P<name>prompt_ledger\.\S+): (?P<status>.+)$")
EQUIVALENT = re.compile(r"`(prompt_ledger\.[^`]+__mutmut_\d+)`")


def module_of(mutant: str) -> str:
    """`prompt_ledger.services.executions.x_run__mutmut_3` -> `services.executions`."""
    parts = mutant.split(".")
    for i, part in enumerate(parts):
        if part.startswith(("x_", "xǁ")):
            return ".".join(parts[1:i])
    return ".".join(parts[1:-1])


def pattern(module: str) -> str:
    return f"prompt_ledger.{module}.*"


@contextmanager
def postgres() -> Iterator[str]:
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    from prompt_ledger.embedded import EmbeddedPostgres

    print("DATABASE_URL is unset: starting an embedded PostgreSQL for the run", flush=True)
    server = EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="pl-mutate-pg-")) / "pgdata", delete_on_exit=True
    )
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def template_database(server_url: str) -> Iterator[str]:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import create_database, drop_database

    from prompt_ledger import migrate

    name = f"pl_mutation_template_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        migrate.upgrade(url)
        yield name
    finally:
        drop_database(server_url, name)


def sync_data_files() -> None:
    """Bring mutants/'s copies of the source tree's other files (queries.sql, templates, assets)
    up to date: mutmut copies them once and, on a later run, refreshes only the Python files."""
    source = ROOT / "src"
    mirror = ROOT / "mutants" / "src"
    if not mirror.is_dir():
        return  # the first run copies everything
    for path in source.rglob("*"):
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts:
            copy = mirror / path.relative_to(source)
            if not copy.exists() or copy.read_bytes() != path.read_bytes():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)


def mutmut(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "mutmut"), *args],
        cwd=ROOT,
        env=env,
        text=True,
        check=False,
        stdout=subprocess.PIPE if args[0] == "results" else None,
    )


def equivalents() -> set[str]:
    if not EQUIVALENTS.is_file():
        return set()
    return set(EQUIVALENT.findall(EQUIVALENTS.read_text(encoding="utf-8")))


def table(results: str, modules: list[str]) -> list[str]:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    listed = equivalents()
    for line in results.splitlines():
        match = RESULT.match(line)
        if not match:
            continue
        name, status = match["name"], match["status"]
        module = module_of(name)
        if not any(module == m or module.startswith(m + ".") for m in modules):
            continue
        count = by_module[module]
        if status in UNCHECKED:
            count["unchecked"] += 1
            continue
        count["total"] += 1
        if status in DETECTED:
            count["killed"] += 1
        else:
            count["no tests" if status == "no tests" else "survived"] += 1
            count["equivalent"] += name in listed
    rows = [
        f"{'module':<34} {'killed':>7} {'total':>6} {'score':>7} {'survived':>9} "
        f"{'no tests':>9} {'equiv.':>7} {'score excl. equiv.':>19} {'unchecked':>10}"
    ]
    grand: Counter[str] = Counter()
    for module in sorted(by_module):
        count = by_module[module]
        grand.update(count)
        rows.append(row(module, count))
    rows.append(row("ALL", grand))
    return rows


def row(module: str, count: Counter[str]) -> str:
    total, killed, equivalent = count["total"], count["killed"], count["equivalent"]
    score = f"{100 * killed / total:.1f}%" if total else "-"
    relevant = total - equivalent
    adjusted = f"{100 * killed / relevant:.1f}%" if relevant else "-"
    return (
        f"{module:<34} {killed:>7} {total:>6} {score:>7} {count['survived']:>9} "
        f"{count['no tests']:>9} {equivalent:>7} {adjusted:>19} {count['unchecked']:>10}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(CORE))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", "2")))
    parser.add_argument(
        "--scores-only", action="store_true", help="print the scores of the last run only"
    )
    options = parser.parse_args()
    env = dict(os.environ)
    if not options.scores_only:
        with postgres() as server_url, template_database(server_url) as template:
            env |= {"DATABASE_URL": server_url, "PROMPTLEDGER_TEST_TEMPLATE_DB": template}
            # without names mutmut keeps the results of unchanged functions from the last run
            every = sorted(options.modules) == sorted(CORE)
            patterns = [] if every else [pattern(m) for m in options.modules]
            sync_data_files()
            done = mutmut("run", "--max-children", str(options.jobs), *patterns, env=env)
            if done.returncode != 0:
                print(f"mutmut run failed (exit {done.returncode})", file=sys.stderr)
                return done.returncode
    results = mutmut("results", "--all", "true", env=env)
    print()
    print("\n".join(table(results.stdout, options.modules)))
    print(
        "\nsurvivors: `.mutate-venv/bin/mutmut results`; one diff: "
        "`.mutate-venv/bin/mutmut show NAME`; equivalents: mutation/equivalents.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
