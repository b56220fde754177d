"""render.yaml (Blueprint) against the service catalogue.

Each platform must run each service of its topology with the catalogue's command, health path
and schedule, and nothing the catalogue lacks: a service added to the catalogue (or a function
added to FUNCTIONS) fails here until every platform runs it."""

from __future__ import annotations

from prompt_ledger.deploy import (
    FUNCTION_SERVICES,
    GATEWAY,
    MIGRATE,
    peers,
    topology,
)
from tests.deploy.files import (
    RENDER_PREFIX,
    ROOT,
    render,
    words,
)

PER_FUNCTION = topology(gateway=False)
RUNNING = [s for s in PER_FUNCTION if s.kind != "release"]  # platform services, not a release step


# --- Render ------------------------------------------------------------------------------------

RENDER_SERVICE_KEYS = {
    "type", "name", "runtime", "plan", "region", "branch", "rootDir", "dockerfilePath",
    "dockerContext", "dockerCommand", "preDeployCommand", "healthCheckPath", "schedule",
    "envVars", "numInstances", "maxShutdownDelaySeconds", "autoDeployTrigger", "buildFilter",
}  # fmt: skip


def test_render_blueprint_runs_every_service_with_the_catalogue_command() -> None:
    blueprint = render()
    services = {s["name"].removeprefix(RENDER_PREFIX): s for s in blueprint["services"]}
    assert set(services) == {s.name for s in RUNNING}
    for s in RUNNING:
        svc = services[s.name]
        assert set(svc) <= RENDER_SERVICE_KEYS, set(svc) - RENDER_SERVICE_KEYS
        assert svc["type"] == s.kind
        assert svc["runtime"] == "docker"
        assert svc["dockerfilePath"] == "./Dockerfile"
        assert words(svc["dockerCommand"]) == s.command
        assert svc.get("healthCheckPath") == s.health_path
        assert svc.get("schedule") == s.schedule
        if s.kind == "cron":
            assert "preDeployCommand" not in svc
        else:
            assert words(svc["preDeployCommand"]) == MIGRATE.command


def test_render_blueprint_environment() -> None:
    blueprint = render()
    (db,) = blueprint["databases"]
    groups = {g["name"]: g for g in blueprint["envVarGroups"]}
    (shared,) = groups.values()
    assert {"key": "API_KEY", "generateValue": True} in shared["envVars"]
    assert {"key": "ENVIRONMENT", "value": "production"} in shared["envVars"]
    assert {"key": "DEMO_FALLBACK", "value": "auto"} in shared["envVars"]
    executions = f"{RENDER_PREFIX}executions"
    for svc in blueprint["services"]:
        env = svc["envVars"]
        assert {
            "key": "DATABASE_URL",
            "fromDatabase": {"name": db["name"], "property": "connectionString"},
        } in env
        assert {"fromGroup": shared["name"]} in env
        # The provider key is asked for once (executions) and copied by the worker and the
        # console (it runs prompts in process).
        asked = {"key": "OPENAI_API_KEY", "sync": False}
        copied = {
            "key": "OPENAI_API_KEY",
            "fromService": {"type": "web", "name": executions, "envVarKey": "OPENAI_API_KEY"},
        }
        assert (asked in env) == (svc["name"] == executions), svc["name"]
        copies = svc["type"] == "worker" or svc["name"].endswith("console")  # runs prompts too
        assert (copied in env) == copies, svc["name"]


def test_render_function_services_reach_each_other_on_the_private_network() -> None:
    services = {s["name"].removeprefix(RENDER_PREFIX): s for s in render()["services"]}
    for fn in FUNCTION_SERVICES:
        wired = {
            entry["key"]: entry["fromService"]
            for entry in services[fn.name]["envVars"]
            if "fromService" in entry and entry["key"].endswith("_URL")
        }
        assert wired == {
            variable: {"type": "web", "name": RENDER_PREFIX + peer, "property": "hostport"}
            for variable, peer in peers(fn.name).items()
        }, fn.name


def test_render_documents_the_gateway_alternative_with_its_command() -> None:
    text = (ROOT / "render.yaml").read_text()
    assert f"#     dockerCommand: {GATEWAY.shell}" in text
    assert f"./infra/start-web.sh {GATEWAY.shell}" in text
