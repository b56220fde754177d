"""The service catalogue itself: derived from the function list, internally consistent."""

from __future__ import annotations

import ast

import pytest

from prompt_ledger.deploy import (
    FUNCTION_SERVICES,
    GATEWAY,
    MIGRATE,
    SERVICES,
    Service,
    check_schedule,
    service,
    topology,
)
from prompt_ledger.functions import FUNCTIONS
from tests.deploy.files import ROOT


def test_every_function_is_a_web_service_of_functions_framework() -> None:
    assert [s.name for s in FUNCTION_SERVICES] == list(FUNCTIONS)
    for fn in FUNCTION_SERVICES:
        assert fn.kind == "web"
        assert fn.health_path == "/health"
        assert fn.command == (
            "functions-framework",
            "--source",
            "functions/main.py",
            "--target",
            fn.name,
        )


def test_every_function_has_a_target_in_functions_main() -> None:
    tree = ast.parse((ROOT / "functions" / "main.py").read_text())
    targets = {
        node.name
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef)
        and any(ast.unparse(d) == "functions_framework.aio.http" for d in node.decorator_list)
    }
    assert targets == set(FUNCTIONS)


def test_names_are_unique_and_lookup_works() -> None:
    names = [s.name for s in SERVICES]
    assert len(names) == len(set(names))
    assert service("worker").command == ("promptledger", "worker")
    with pytest.raises(KeyError, match="no service"):
        service("beat")


def test_the_gateway_replaces_exactly_the_functions() -> None:
    assert set(GATEWAY.replaces) == set(FUNCTIONS)
    per_function = {s.name for s in topology(gateway=False)}
    single = {s.name for s in topology(gateway=True)}
    assert per_function == {s.name for s in SERVICES} - {"gateway"}
    assert single == {s.name for s in SERVICES} - set(FUNCTIONS)


def test_migrations_are_a_release_step_never_a_web_command() -> None:
    assert [s for s in SERVICES if s.kind == "release"] == [MIGRATE]
    for s in SERVICES:
        if s.kind != "release":
            assert "migrate" not in s.command, s


def test_crons_are_schedulable_on_every_platform() -> None:
    crons = [s for s in SERVICES if s.kind == "cron"]
    assert {s.name for s in crons} == {"recover", "prune"}
    for cron in crons:
        assert cron.schedule is not None
        check_schedule(cron.schedule)


@pytest.mark.parametrize(
    "schedule",
    [
        "* * * * *",
        "*/2 * * * *",
        "0,3 * * * *",
        "0 * * *",
        "58,1 * * * *",
        "0-10 * * * *",
        "60 * * * *",
    ],
)
def test_schedules_railway_refuses_are_refused(schedule: str) -> None:
    with pytest.raises(ValueError, match="cron schedule"):
        check_schedule(schedule)


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 3 * * *", "0,30 * * * *", "17 * * * 1"])
def test_schedules_every_five_minutes_or_slower_pass(schedule: str) -> None:
    check_schedule(schedule)


def test_kinds_carry_their_own_fields() -> None:
    with pytest.raises(ValueError, match="health path"):
        Service("api", "web", ("x",))
    with pytest.raises(ValueError, match="health path"):
        Service("w", "worker", ("x",), health_path="/health")
    with pytest.raises(ValueError, match="schedule"):
        Service("c", "cron", ("x",))
    with pytest.raises(ValueError, match="empty command"):
        Service("w", "worker", ())
    assert service("recover").shell == "promptledger jobs recover"
