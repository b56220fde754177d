"""``make mutate`` (mutation/run.py), its pure parts: which mutants a ``--sample`` draws, the
Wilson interval, and the score table of a full run and of a sample."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "mutation" / "run.py"
    spec = importlib.util.spec_from_file_location("mutation_run_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load()


def mutants(module: str, function: str, count: int) -> list[str]:
    return [f"prompt_ledger.{module}.x_{function}__mutmut_{i}" for i in range(1, count + 1)]


AUTH = mutants("auth", "hash_key", 40) + [
    f"prompt_ledger.auth.xǁAuthenticatorǁauthenticate__mutmut_{i}" for i in range(1, 61)
]
QUEUE = mutants("queue", "build_app", 30)
EXECUTIONS = mutants("services.executions", "create", 80)
ALL = AUTH + QUEUE + EXECUTIONS


def test_module_of_reads_the_module_out_of_a_mutant_name() -> None:
    assert run.module_of("prompt_ledger.services.executions.x_create__mutmut_3") == (
        "services.executions"
    )
    assert run.module_of("prompt_ledger.auth.xǁAuthenticatorǁauthenticate__mutmut_1") == "auth"


def test_a_sample_takes_that_many_mutants_of_each_module_and_all_of_a_smaller_one() -> None:
    drawn = run.sample(ALL, ["auth", "queue", "services"], 50, 0)

    assert len(drawn & set(AUTH)) == 50
    assert drawn & set(QUEUE) == set(QUEUE)
    assert len(drawn & set(EXECUTIONS)) == 50


def test_a_sample_takes_only_mutants_of_the_modules_asked_for() -> None:
    assert run.sample(ALL, ["services"], 10, 0) <= set(EXECUTIONS)
    assert run.sample(ALL, ["services.executions"], 10, 0) <= set(EXECUTIONS)
    assert not run.sample(ALL, ["serv"], 10, 0)


def test_a_sample_is_the_same_for_the_same_names_and_seed_whatever_their_order() -> None:
    first = run.sample(ALL, ["auth", "services"], 20, 7)

    assert run.sample(list(reversed(ALL)), ["services", "auth"], 20, 7) == first
    assert run.sample(ALL, ["auth", "services"], 20, 8) != first


def test_a_sample_is_drawn_from_the_whole_module_not_its_first_names() -> None:
    drawn = run.sample(AUTH, ["auth"], 50, 0)

    assert drawn != set(sorted(AUTH)[:50])
    assert drawn != set(AUTH[:50])
    # both functions are represented (all 50 from one would be a 1-in-10^28 draw)
    assert drawn & set(AUTH[:40])
    assert drawn & set(AUTH[40:])


def test_a_changed_module_moves_few_picks_and_no_other_module_s() -> None:
    before = run.sample(ALL, ["auth", "queue", "services"], 20, 0)
    grown = mutants("auth", "new_key", 5)
    after = run.sample(ALL + grown, ["auth", "queue", "services"], 20, 0)

    assert after - set(AUTH + grown) == before - set(AUTH)
    # a new mutant can only displace one pick, never reshuffle the rest
    assert len(before - after) == len(after & set(grown)) <= 5


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (45, 50, 0.7864, 0.9565),
        (0, 0, 0.0, 1.0),
    ],
)
def test_the_wilson_interval_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    assert run.wilson(successes, trials) == pytest.approx((low, high), abs=5e-5)


RESULTS = "\n".join(
    [
        "    prompt_ledger.auth.x_hash_key__mutmut_1: killed",
        "    prompt_ledger.auth.x_hash_key__mutmut_2: survived",
        "    prompt_ledger.auth.x_hash_key__mutmut_3: timeout",
        "    prompt_ledger.auth.x_hash_key__mutmut_4: no tests",
        "    prompt_ledger.auth.x_hash_key__mutmut_5: not checked",
        "    prompt_ledger.queue.x_build_app__mutmut_1: caught by type check",
        "    prompt_ledger.queue.x_build_app__mutmut_2: survived",
        "    prompt_ledger.cache.x_other__mutmut_1: survived",
        "some other line",
    ]
)


def test_parse_reads_mutmut_s_results() -> None:
    statuses = run.parse(RESULTS)

    assert len(statuses) == 8
    assert statuses["prompt_ledger.auth.x_hash_key__mutmut_4"] == "no tests"


def cells(line: str) -> list[str]:
    return line.split()


def test_the_full_table_counts_every_mutant_per_module_and_all() -> None:
    listed = {"prompt_ledger.queue.x_build_app__mutmut_2"}
    rows = run.table(run.parse(RESULTS), ["auth", "queue"], listed)

    assert len(rows) == 4
    # module killed total score survived no-tests equiv. adjusted unchecked
    assert cells(rows[1]) == ["auth", "2", "4", "50.0%", "1", "1", "0", "50.0%", "1"]
    assert cells(rows[2]) == ["queue", "1", "2", "50.0%", "1", "0", "1", "100.0%", "0"]
    assert cells(rows[3]) == ["ALL", "3", "6", "50.0%", "2", "1", "1", "60.0%", "1"]
    assert "CI" not in rows[0]


def test_a_sample_s_table_counts_the_sample_only_with_its_size_and_interval() -> None:
    statuses = run.parse(RESULTS)
    sampled = {
        "prompt_ledger.auth.x_hash_key__mutmut_1",
        "prompt_ledger.auth.x_hash_key__mutmut_2",
        "prompt_ledger.auth.x_hash_key__mutmut_3",
        "prompt_ledger.queue.x_build_app__mutmut_1",
        "prompt_ledger.queue.x_build_app__mutmut_2",
    }
    rows = run.table(statuses, ["auth", "queue"], set(), sampled)

    assert len(rows) == 3  # no ALL row: the modules' samples are different fractions of them
    assert "95% CI" in rows[0]
    low, high = run.wilson(2, 3)
    assert cells(rows[1]) == [
        *["auth", "2", "3", "66.7%", "1", "0", "0", "66.7%", "0"],
        *["3", "of", "5", f"{100 * low:.1f}-{100 * high:.1f}%"],
    ]
    assert cells(rows[2])[-5:] == ["2", "of", "2", "all:", "exact"]
