"""infra/compose.yaml and its monitoring (Prometheus, Grafana) against the service catalogue.

Each platform must run each service of its topology with the catalogue's command, health path
and schedule, and nothing the catalogue lacks: a service added to the catalogue (or a function
added to FUNCTIONS) fails here until every platform runs it."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

from prompt_ledger import metrics
from prompt_ledger.deploy import (
    FUNCTION_SERVICES,
    SERVICES,
    WORKER,
    peers,
    topology,
)
from tests.deploy.files import (
    APP_IMAGE,
    INFRA,
    compose,
    load_yaml,
)

PER_FUNCTION = topology(gateway=False)


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


def test_compose_function_services_reach_each_other_by_service_name() -> None:
    services = app_services(compose())
    for fn in FUNCTION_SERVICES:
        env = services[fn.name]["environment"]
        for variable, peer in peers(fn.name).items():
            assert env[variable] == f"http://{peer}:8080", fn.name
    assert services["worker"]["environment"]["DEMO_FALLBACK"] == "${DEMO_FALLBACK:-auto}"
    assert services["migrate"]["environment"]["API_KEY"] == "${API_KEY:-}"


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
