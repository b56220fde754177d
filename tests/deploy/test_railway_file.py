""".railway/railway.py (Infrastructure as Code, rendered offline) and the legacy Config as Code
files against the service catalogue.

Each platform must run each service of its topology with the catalogue's command, health path
and schedule, and nothing the catalogue lacks: a service added to the catalogue (or a function
added to FUNCTIONS) fails here until every platform runs it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from prompt_ledger.deploy import (
    FUNCTION_SERVICES,
    MIGRATE,
    peers,
    topology,
)
from tests.deploy.files import (
    INFRA,
    ROOT,
    railway_graph,
    railway_legacy_files,
)

PER_FUNCTION = topology(gateway=False)
RUNNING = [s for s in PER_FUNCTION if s.kind != "release"]  # platform services, not a release step


# --- Railway -----------------------------------------------------------------------------------


def railway_services() -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in railway_graph()["resources"] if r["type"] == "service"}


def test_railway_iac_runs_every_service_with_the_catalogue_command() -> None:
    services = railway_services()
    assert set(services) == {s.name for s in RUNNING}
    for s in RUNNING:
        deploy = services[s.name]["deploy"]
        assert deploy["startCommand"] == s.shell, s.name
        assert services[s.name]["build"] == {
            "builder": "DOCKERFILE",
            "dockerfilePath": "Dockerfile",
        }
        assert deploy.get("healthcheckPath") == s.health_path, s.name
        assert deploy.get("cronSchedule") == s.schedule, s.name
        if s.kind == "cron":
            assert "preDeployCommand" not in deploy
            assert deploy["restartPolicyType"] == "NEVER"
        else:
            assert deploy["preDeployCommand"] == [MIGRATE.shell], s.name


def test_railway_iac_variables_and_references() -> None:
    graph = railway_graph()
    addresses = [r["address"] for r in graph["resources"]]
    assert len(addresses) == len(set(addresses))  # the CLI's validate_graph
    (db,) = [r for r in graph["resources"] if r["type"] == "database"]
    assert db["engine"] == "postgres"
    services = railway_services()
    owners: dict[str, str] = {}
    for name, svc in services.items():
        variables = svc["variables"]
        assert variables["DATABASE_URL"] == {
            "type": "reference",
            "resource": db["address"],
            "output": "DATABASE_URL",
        }
        assert variables["ENVIRONMENT"] == {"type": "literal", "value": "production"}
        assert "API_KEY" in variables, f"{name} would refuse to start without API_KEY"
        for key, value in variables.items():
            if value["type"] == "reference":
                assert value["resource"] in addresses, (name, key)
            if value["type"] == "preserve":
                assert key not in owners, f"{key} is set on two services"
                owners[key] = name
            assert value["type"] != "literal" or "KEY" not in key, f"secret {key} in the file"
    assert owners == {"API_KEY": "registry", "OPENAI_API_KEY": "executions"}
    for name, svc in services.items():
        if name != owners["API_KEY"]:
            assert svc["variables"]["API_KEY"] == {
                "type": "reference",
                "resource": "service.registry",
                "output": "API_KEY",
            }
    assert services["worker"]["variables"]["OPENAI_API_KEY"]["resource"] == "service.executions"
    for svc in services.values():
        assert svc["variables"]["DEMO_FALLBACK"] == {"type": "literal", "value": "auto"}


def test_railway_function_services_reach_each_other_on_the_private_network() -> None:
    services = railway_services()
    for fn in FUNCTION_SERVICES:
        variables = services[fn.name]["variables"]
        # Listens where the private network (IPv4 and IPv6) and the references expect it.
        assert variables["PORT"] == {"type": "literal", "value": "8080"}
        assert variables["HOST"] == {"type": "literal", "value": "[::]"}
        for variable, peer in peers(fn.name).items():
            assert variables[variable] == {
                "type": "literal",
                "value": f"http://${{{{{peer}.RAILWAY_PRIVATE_DOMAIN}}}}:${{{{{peer}.PORT}}}}",
            }, fn.name
        assert {k for k in variables if k.endswith("_URL") and k != "DATABASE_URL"} == set(
            peers(fn.name)
        )


def test_railway_iac_connects_the_github_repository_when_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMPTLEDGER_REPO", raising=False)
    assert all("source" not in svc for svc in railway_services().values())
    monkeypatch.setenv("PROMPTLEDGER_REPO", "acme/prompt-ledger")
    for svc in railway_services().values():
        assert svc["source"] == {"type": "github", "repo": "acme/prompt-ledger", "branch": "main"}


def test_no_root_config_as_code_file_competes_with_the_iac_file() -> None:
    # A root railway.toml/json is read at deploy by every service built from the repository root
    # and overrides its settings; the CLI also flags it on every command (docs/deployment.md).
    assert not (ROOT / "railway.toml").exists()
    assert not (ROOT / "railway.json").exists()
    assert sorted((ROOT / ".railway").glob("railway.*")) == [ROOT / ".railway" / "railway.py"]


def test_railway_legacy_files_are_named_so_the_cli_sees_their_services_as_managed() -> None:
    # railway config plan refuses a service whose config file matches this (the CLI's
    # is_managed_by_repo_config in src/iac/change_set.rs): a service cannot be managed twice.
    for path in (INFRA / "railway").iterdir():
        assert re.search(r"railway\.(json|toml)$", path.name), path.name


def test_railway_legacy_files_match_the_catalogue() -> None:
    files = railway_legacy_files()
    assert set(files) == {s.name for s in RUNNING}
    for s in RUNNING:
        config = files[s.name]
        assert set(config) == {"$schema", "build", "deploy"}
        assert config["build"] == {"builder": "DOCKERFILE", "dockerfilePath": "Dockerfile"}
        deploy = config["deploy"]
        assert deploy["startCommand"] == s.shell
        assert deploy.get("healthcheckPath") == s.health_path
        assert deploy.get("cronSchedule") == s.schedule
        if s.kind in ("web", "worker"):
            assert deploy["preDeployCommand"] == [MIGRATE.shell]
