"""Every deploy file against the service catalogue (src/prompt_ledger/deploy.py).

Each platform must run each service of its topology with the catalogue's command, health path
and schedule, and nothing the catalogue lacks: a service added to the catalogue (or a function
added to FUNCTIONS) fails here until every platform runs it."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from prompt_ledger import metrics
from prompt_ledger.deploy import GATEWAY, MIGRATE, SERVICES, WORKER, Service, topology
from tests.deploy.files import (
    INFRA,
    RENDER_PREFIX,
    ROOT,
    app_json,
    compose,
    dockerfile,
    dockerignore_includes,
    exec_form,
    load_yaml,
    procfile,
    railway_graph,
    railway_legacy_files,
    render,
    words,
)

PER_FUNCTION = topology(gateway=False)
RUNNING = [s for s in PER_FUNCTION if s.kind != "release"]  # platform services, not a release step
LONG_RUNNING = [s for s in RUNNING if s.kind in ("web", "worker")]
APP_IMAGE = "promptledger:local"


def by_name(services: list[Service] | tuple[Service, ...]) -> dict[str, Service]:
    return {s.name: s for s in services}


# --- Docker image ------------------------------------------------------------------------------


def test_dockerfile_default_command_is_the_gateway_and_healthcheck_is_python() -> None:
    instructions = dockerfile()
    cmds = [i for i in instructions if i.keyword == "CMD"]
    assert len(cmds) == 1
    assert exec_form(cmds[0].argument) == list(GATEWAY.command)
    (check,) = [i for i in instructions if i.keyword == "HEALTHCHECK"]
    probe = exec_form(check.argument.split(" CMD ", 1)[1])
    assert probe == ["python", "/app/infra/healthcheck.py"]
    assert "curl" not in (ROOT / "Dockerfile").read_text()
    script = (INFRA / "healthcheck.py").read_text()
    assert "127.0.0.1" in script
    assert "PORT" in script
    assert GATEWAY.health_path is not None
    assert GATEWAY.health_path in script


def test_dockerfile_is_multi_stage_slim_non_root_without_compilers_at_run_time() -> None:
    instructions = dockerfile()
    args = {
        i.argument.split("=", 1)[0]: i.argument.split("=", 1)[1]
        for i in instructions
        if i.keyword == "ARG"
    }
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    stages = [i for i in instructions if i.keyword == "FROM"]
    assert [s.argument for s in stages] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE} AS runtime",
    ]
    runtime = [i for i in instructions if i.stage == 1]
    run_lines = " ".join(i.argument for i in runtime if i.keyword == "RUN")
    assert "ca-certificates" in run_lines
    assert "build-essential" not in run_lines
    assert "gcc" not in run_lines
    (user,) = [i for i in runtime if i.keyword == "USER"]
    assert user.argument not in ("root", "0")
    build_runs = " ".join(i.argument for i in instructions if i.stage == 0 and i.keyword == "RUN")
    assert '".[server]"' in build_runs
    copied = {
        i.argument.split()[0] for i in runtime if i.keyword == "COPY" and "--from" not in i.argument
    }
    assert {"functions", "jobs", "schema"} <= copied


def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_private() -> None:
    sources: list[str] = []
    for instruction in dockerfile():
        if instruction.keyword == "COPY" and "--from" not in instruction.argument:
            sources += instruction.argument.split()[:-1]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert dockerignore_includes(source), f"{source} is excluded by .dockerignore"
    for private in [
        ".venv/bin/python",
        ".git/config",
        ".env",
        "tests/conftest.py",
        ".promptledger/x",
    ]:
        assert not dockerignore_includes(private), private
    assert not dockerignore_includes("src/prompt_ledger/__pycache__/x.pyc")


def test_start_web_script_migrates_then_execs_the_command() -> None:
    script = INFRA / "start-web.sh"
    assert os.access(script, os.X_OK)
    lines = [line for line in script.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-2:] == [MIGRATE.shell, 'exec "$@"']


# --- Docker Compose ----------------------------------------------------------------------------


def app_services(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in spec["services"].items() if s.get("image") == APP_IMAGE}


def test_compose_runs_every_catalogue_service_with_its_command() -> None:
    spec = compose()
    services = app_services(spec)
    backing = set(spec["services"]) - set(services)
    assert backing == {"postgres", "prometheus", "grafana", "redis"}, "unknown compose service"
    assert set(services) == {s.name for s in SERVICES}
    for s in SERVICES:
        assert services[s.name]["command"] == list(s.command), s.name
        assert services[s.name]["build"] == {"context": "..", "dockerfile": "Dockerfile"}


def test_compose_default_profile_is_the_per_function_topology() -> None:
    services = app_services(compose())
    default = {name for name, svc in services.items() if not svc.get("profiles")}
    assert default == {s.name for s in PER_FUNCTION if s.kind != "cron"}
    assert services["gateway"]["profiles"] == ["gateway"]
    for s in SERVICES:
        if s.kind == "cron":
            assert services[s.name]["profiles"] == ["cron"]
            assert services[s.name]["x-schedule"] == s.schedule
            assert services[s.name]["restart"] == "no"


def test_compose_health_checks_only_web_services_and_orders_startup() -> None:
    spec = compose()
    services = app_services(spec)
    for s in SERVICES:
        svc = services[s.name]
        if s.kind == "web":
            assert "healthcheck" not in svc, f"{s.name} should keep the image's HEALTHCHECK"
            assert any(p.endswith(":8080") for p in svc["ports"])
        else:
            assert svc["healthcheck"] == {"disable": True}, s.name
        if s.kind == "release":
            assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"}}
            assert svc["restart"] == "no"
        else:
            assert svc["depends_on"] == {
                "migrate": {"condition": "service_completed_successfully"}
            }, s.name
    postgres = spec["services"]["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    host_ports = [
        p.split(":")[0] for svc in spec["services"].values() for p in svc.get("ports", [])
    ]
    assert len(host_ports) == len(set(host_ports))


def test_compose_optional_profiles_and_environment() -> None:
    spec = compose()
    assert spec["services"]["redis"]["profiles"] == ["redis"]
    assert spec["services"]["prometheus"]["profiles"] == ["monitoring"]
    assert spec["services"]["grafana"]["profiles"] == ["monitoring"]
    env = app_services(spec)["registry"]["environment"]
    # Unset unless the shell sets it: an empty provider key would count as configured.
    assert env["OPENAI_API_KEY"] is None
    assert env["REDIS_URL"] is None
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert app_services(spec)["worker"]["environment"]["WORKER_METRICS_PORT"] == "9090"
    for service in ("prometheus", "grafana"):
        for volume in spec["services"][service]["volumes"]:
            host = volume.split(":")[0]
            if host.startswith("./"):
                assert (INFRA / host).exists(), volume


# --- Monitoring --------------------------------------------------------------------------------


def exposed_metric_names() -> set[str]:
    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            suffixes = {
                "counter": ["_total"],
                "histogram": ["_bucket", "_sum", "_count"],
                "gauge": [""],
            }.get(family.type, [""])
            names |= {family.name + suffix for suffix in suffixes}
    return names


def test_prometheus_scrapes_every_web_service_and_the_worker() -> None:
    config = load_yaml(INFRA / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    services = app_services(compose())
    expected = {s.name for s in SERVICES if s.kind in ("web", "worker")}
    assert expected <= set(jobs)
    for name in expected:
        job = jobs[name]
        assert job["metrics_path"] == "/metrics"
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name]
        assert name in services
        port = 9090 if name == WORKER.name else 8080
        assert sd["port"] == port
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_alerts_and_dashboard_only_use_metrics_that_exist() -> None:
    known = exposed_metric_names()
    assert "promptledger_http_requests_total" in known
    alerts = load_yaml(INFRA / "alerts.yml")
    rules = [rule for group in alerts["groups"] for rule in group["rules"]]
    assert rules
    for rule in rules:
        assert rule["alert"].startswith("PromptLedger")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert "summary" in rule["annotations"]
    dashboard_text = (INFRA / "grafana" / "dashboards" / "promptledger.json").read_text()
    used = set(re.findall(r"promptledger_[a-z_]+", (INFRA / "alerts.yml").read_text()))
    used |= set(re.findall(r"promptledger_[a-z_]+", dashboard_text))
    assert used - known == set()


def test_grafana_is_provisioned_with_the_datasource_the_dashboard_uses() -> None:
    import json

    (datasource,) = load_yaml(INFRA / "grafana/provisioning/datasources/prometheus.yml")[
        "datasources"
    ]
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = load_yaml(INFRA / "grafana/provisioning/dashboards/promptledger.yml")["providers"]
    grafana = compose()["services"]["grafana"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    dashboard = json.loads((INFRA / "grafana/dashboards/promptledger.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"]
        assert panel["targets"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]


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
    for svc in blueprint["services"]:
        env = svc["envVars"]
        assert {
            "key": "DATABASE_URL",
            "fromDatabase": {"name": db["name"], "property": "connectionString"},
        } in env
        assert {"fromGroup": shared["name"]} in env
        provider_key = {"key": "OPENAI_API_KEY", "sync": False}
        calls_providers = svc["type"] == "worker" or svc["name"].endswith(
            ("executions", "console")  # the console runs prompts in process
        )
        assert (provider_key in env) == calls_providers, svc["name"]


def test_render_documents_the_gateway_alternative_with_its_command() -> None:
    text = (ROOT / "render.yaml").read_text()
    assert f"#     dockerCommand: {GATEWAY.shell}" in text
    assert f"./infra/start-web.sh {GATEWAY.shell}" in text


# --- Heroku ------------------------------------------------------------------------------------

HEROKU_TYPES = {"web": GATEWAY, "worker": WORKER, "release": MIGRATE}


def test_procfile_runs_the_gateway_topology() -> None:
    assert {kind: words(cmd) for kind, cmd in procfile().items()} == {
        kind: s.command for kind, s in HEROKU_TYPES.items()
    }
    single = {s.name for s in topology(gateway=True) if s.kind != "cron"}
    assert {s.name for s in HEROKU_TYPES.values()} == single


def test_heroku_crons_are_documented_as_scheduler_jobs() -> None:
    # Heroku has no cron in the Procfile (a Scheduler add-on job is set in the dashboard); the
    # deployment guide lists each cron's command for it.
    guide = (ROOT / "docs" / "deployment.md").read_text()
    heroku = guide.split("## Heroku", 1)[1].split("\n## ", 1)[0]
    for s in SERVICES:
        if s.kind == "cron":
            assert f"`{s.shell}`" in heroku, s.name
            assert f"`{s.schedule}`" in heroku, s.name


def test_app_json_provisions_postgres_secrets_and_formation() -> None:
    app = app_json()
    assert "heroku-postgresql" in app["addons"]
    assert app["env"]["API_KEY"]["generator"] == "secret"
    assert app["env"]["OPENAI_API_KEY"]["required"] is False
    assert app["env"]["ENVIRONMENT"]["value"] == "production"
    assert set(app["formation"]) == {"web", "worker"}
    assert set(app["formation"]) <= set(procfile())
    assert all(f["quantity"] >= 1 for f in app["formation"].values())
    assert (ROOT / "requirements.txt").read_text().split("\n")[-2] == ".[server]"


# --- The guide -----------------------------------------------------------------------------------


def test_deployment_guide_lists_every_service_with_its_command() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    table = guide.split("## The services", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert set(rows) == {s.name for s in SERVICES}
    for s in SERVICES:
        assert f"| {s.kind} | `{s.shell}` |" in rows[s.name]
        if s.schedule:
            assert f"`{s.schedule}`" in rows[s.name]
