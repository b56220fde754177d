"""`make mutate`: mutmut over the core, then one mutation score per module.

    python mutation/run.py [MODULE ...]      # e.g. auth cache services providers
    python mutation/run.py --sample 60 [--seed 1] services    # 60 mutants of each file

A MODULE is a dotted name under prompt_ledger (`auth`, `services`, `services.executions`,
`db.store`); without one, every module of CORE is tested. mutmut's configuration (which files
are mutated, which tests run) is `[tool.mutmut]` in pyproject.toml; its work lands in mutants/
and is reused by the next run (only changed functions are tested again; `rm -rf mutants` for a
clean run).

--sample N tests N mutants of each module (each file; all of a smaller one), drawn at random
from every mutant mutmut generates for it, and prints each score with its 95 % confidence
interval (Wilson) and the sample's size. The draw depends on the seed and the mutants' names
only: the same sample on every run while the code is unchanged (a changed function moves only
the picks among its own mutants), so a "before" and an "after" score the same mutants. Sampled
mutants an earlier run of unchanged code detected are not run again; the others (survivors
too: a new test may kill them) are.

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
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
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


def selected(module: str, modules: Iterable[str]) -> bool:
    return any(module == m or module.startswith(m + ".") for m in modules)


def parse(results: str) -> dict[str, str]:
    """`mutmut results --all true` -> {mutant name: status}."""
    return {m["name"]: m["status"] for m in map(RESULT.match, results.splitlines()) if m}


def sample(names: Iterable[str], modules: Iterable[str], size: int, seed: int) -> set[str]:
    """`size` mutants of each module under `modules` (all of a smaller one), drawn at random:
    those whose seeded hash is smallest, so the draw depends on the seed and the names alone."""
    by_module: dict[str, list[str]] = defaultdict(list)
    for name in names:
        if selected(module_of(name), modules):
            by_module[module_of(name)].append(name)

    def rank(name: str) -> bytes:
        return hashlib.sha256(f"{seed}:{name}".encode()).digest()

    return {name for group in by_module.values() for name in sorted(group, key=rank)[:size]}


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % for z = 1.96)."""
    if not trials:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


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


def table(
    statuses: Mapping[str, str],
    modules: list[str],
    listed: set[str],
    sampled: set[str] | None = None,
) -> list[str]:
    """One row per module: every mutant of it, or with `sampled` only those, then the sample's
    size out of the module's mutants and the 95 % interval of the score excluding equivalents.
    A sample has no ALL row: its modules are sampled at different fractions."""
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in statuses.items():
        module = module_of(name)
        if not selected(module, modules):
            continue
        count = by_module[module]
        count["mutants"] += 1
        if sampled is not None and name not in sampled:
            continue
        count["sampled"] += 1
        if status in UNCHECKED:
            count["unchecked"] += 1
            continue
        count["total"] += 1
        if status in DETECTED:
            count["killed"] += 1
        else:
            count["no tests" if status == "no tests" else "survived"] += 1
            count["equivalent"] += name in listed
    header = (
        f"{'module':<34} {'killed':>7} {'total':>6} {'score':>7} {'survived':>9} "
        f"{'no tests':>9} {'equiv.':>7} {'score excl. equiv.':>19} {'unchecked':>10}"
    )
    if sampled is not None:
        header += f" {'sampled':>11} {'95% CI excl. equiv.':>20}"
    rows = [header]
    grand: Counter[str] = Counter()
    for module in sorted(by_module):
        count = by_module[module]
        grand.update(count)
        rows.append(row(module, count, sampled is not None))
    if sampled is None:
        rows.append(row("ALL", grand, False))
    return rows


def row(module: str, count: Counter[str], sample: bool) -> str:
    total, killed, equivalent = count["total"], count["killed"], count["equivalent"]
    score = f"{100 * killed / total:.1f}%" if total else "-"
    relevant = total - equivalent
    adjusted = f"{100 * killed / relevant:.1f}%" if relevant else "-"
    line = (
        f"{module:<34} {killed:>7} {total:>6} {score:>7} {count['survived']:>9} "
        f"{count['no tests']:>9} {equivalent:>7} {adjusted:>19} {count['unchecked']:>10}"
    )
    if not sample:
        return line
    if count["sampled"] == count["mutants"]:
        interval = "all: exact"
    elif relevant:
        low, high = wilson(killed, relevant)
        interval = f"{100 * low:.1f}-{100 * high:.1f}%"
    else:
        interval = "-"
    return f"{line} {count['sampled']:>5} of {count['mutants']:<5} {interval:>20}"


def generate(jobs: int) -> None:
    """mutmut's first step alone (the mutants/ tree and its list of mutants), as `mutmut run`
    does it, so a sample can be drawn from every mutant before any runs (mutmut is pinned:
    mutation/requirements.txt)."""
    code = (
        "import os, sys, mutmut.__main__ as m; m.set_mutant_under_test('mutant_generation'); "
        "os.makedirs('mutants', exist_ok=True); m.copy_src_dir(); m.copy_also_copy_files(); "
        "m.setup_source_paths(); m.store_lines_covered_by_tests(); "
        "m.create_mutants(int(sys.argv[1]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(jobs)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(CORE))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", "2")))
    parser.add_argument(
        "--sample", type=int, metavar="N", help="test N mutants of each module, drawn at random"
    )
    parser.add_argument("--seed", type=int, default=0, help="the draw of --sample (default 0)")
    parser.add_argument(
        "--scores-only", action="store_true", help="print the scores of the last run only"
    )
    options = parser.parse_args()
    env = dict(os.environ)
    # without names mutmut keeps the results of unchanged functions from the last run
    every = sorted(options.modules) == sorted(CORE)
    names = [] if every else [pattern(m) for m in options.modules]
    sampled = None
    if options.sample is not None:
        if not options.scores_only:
            generate(options.jobs)
        statuses = parse(mutmut("results", "--all", "true", env=env).stdout)
        sampled = sample(statuses, options.modules, options.sample, options.seed)
        names = sorted(name for name in sampled if statuses[name] not in DETECTED)
    if not options.scores_only and (sampled is None or names):
        with postgres() as server_url, template_database(server_url) as template:
            env |= {"DATABASE_URL": server_url, "PROMPTLEDGER_TEST_TEMPLATE_DB": template}
            sync_data_files()
            done = mutmut("run", "--max-children", str(options.jobs), *names, env=env)
            if done.returncode != 0:
                print(f"mutmut run failed (exit {done.returncode})", file=sys.stderr)
                return done.returncode
    statuses = parse(mutmut("results", "--all", "true", env=env).stdout)
    print()
    print("\n".join(table(statuses, options.modules, equivalents(), sampled)))
    if sampled is not None:
        print(f"\nsample: {options.sample} mutants of each module, seed {options.seed}")
    print(
        "\nsurvivors: `.mutate-venv/bin/mutmut results`; one diff: "
        "`.mutate-venv/bin/mutmut show NAME`; equivalents: mutation/equivalents.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
