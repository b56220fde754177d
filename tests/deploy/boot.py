"""Each platform file booted on this machine as the platform would boot it.

A :class:`Plan` is read from the file itself: its release (pre-deploy) commands, its web,
worker and cron services with their exact commands, and the environment the file defines, with
what the platform provides resolved to loopback: the database (an empty one), generated secrets
(``generateValue``, ``generator: secret``), references to another service's address (Render
``fromService ... hostport``, Railway ``${{svc.RAILWAY_PRIVATE_DOMAIN}}``, Compose service names)
and the ``PORT`` each web service gets. Secrets the user would type (Render ``sync: false``,
Heroku ``required: false``, Railway ``preserve()``) are left unset, as a user who skips them
leaves them.

:func:`boot` then runs the release commands (all at once, as each service's pre-deploy runs),
starts every long-running service and waits until each web service answers ``/health``."""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from tests.deploy import files
from tests.processes import (
    KEY,
    Process,
    base_environment,
    free_port,
    run_concurrently,
    wait_healthy,
)

Kind = Literal["web", "worker", "cron"]
LOOPBACK = "127.0.0.1"
REFERENCE = re.compile(r"\$\{\{\s*([\w-]+)\.(\w+)\s*\}\}")
COMPOSE_DEFAULT = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


@dataclass
class Service:
    name: str
    kind: Kind
    argv: list[str]
    env: dict[str, str]
    release: list[str] | None = None
    port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} serves no HTTP"
        return f"http://{LOOPBACK}:{self.port}"


@dataclass
class Plan:
    platform: str
    services: list[Service]
    entry: str
    """The web service whose URL the client is given (one URL for everything)."""
    release: list[tuple[list[str], dict[str, str]]] = field(default_factory=list)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    @property
    def web(self) -> list[Service]:
        return [s for s in self.services if s.kind == "web"]


@dataclass
class Booted:
    plan: Plan
    processes: list[Process]
    release_output: list[tuple[int, str]]
    boot_seconds: float
    stack: ExitStack

    @property
    def url(self) -> str:
        return self.plan.service(self.plan.entry).url

    def stop(self) -> None:
        self.stack.close()


def boot(plan: Plan, logs: Path) -> Booted:
    """Release, then start; until every web service answers /health."""
    stack = ExitStack()
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    release = run_concurrently([c for c, _ in plan.release], [e for _, e in plan.release])
    for code, out in release:
        assert code == 0, f"{plan.platform}: release failed ({code}):\n{out}"
    processes = []
    for service in plan.services:
        if service.kind == "cron":
            continue
        process = Process(service.name, service.argv, service.env, logs / service.name)
        stack.callback(process.stop)
        processes.append(process.start())
    try:
        for service in plan.web:
            wait_healthy(f"{service.url}/health", processes)
    except BaseException:
        stack.close()
        raise
    return Booted(plan, processes, release, time.perf_counter() - started, stack)


def _argv(command: str) -> list[str]:
    return shlex.split(command)


def _shell(command: str) -> list[str]:
    """Heroku runs Procfile commands through bash."""
    return ["bash", "-c", command]


def _base(**variables: str) -> dict[str, str]:
    # Each worker's metrics port is internal to its container; on one machine they must not
    # collide (compose's 9090 included).
    return base_environment(**variables) | {"WORKER_METRICS_PORT": str(free_port())}


# --- Render ------------------------------------------------------------------------------------


def render(database_url: str) -> Plan:
    blueprint = files.render()
    groups = {g["name"]: g["envVars"] for g in blueprint.get("envVarGroups", [])}
    generated: dict[tuple[str, str], str] = {}
    ports = {s["name"]: free_port() for s in blueprint["services"] if s["type"] == "web"}
    own: dict[str, dict[str, str]] = {}
    copies: list[tuple[str, str, str, str]] = []  # (service, key, from service, its key)

    def value(where: str, entry: dict[str, Any], into: dict[str, str], service: str) -> None:
        if "fromGroup" in entry:
            for grouped in groups[entry["fromGroup"]]:
                value(entry["fromGroup"], grouped, into, service)
            return
        key: str = entry["key"]
        if "value" in entry:
            into[key] = str(entry["value"])
        elif entry.get("generateValue"):
            into[key] = generated.setdefault((where, key), secrets.token_urlsafe(32))
        elif entry.get("sync") is False:
            pass  # asked for at creation; the user left it empty
        elif "fromDatabase" in entry:
            assert entry["fromDatabase"]["property"] == "connectionString", entry
            into[key] = database_url
        elif "fromService" in entry:
            ref = entry["fromService"]
            if "envVarKey" in ref:
                copies.append((service, key, ref["name"], ref["envVarKey"]))
            else:
                prop = {
                    "host": LOOPBACK,
                    "port": str(ports[ref["name"]]),
                    "hostport": f"{LOOPBACK}:{ports[ref['name']]}",
                }
                into[key] = prop[ref["property"]]
        else:
            raise AssertionError(f"unknown Render envVar {entry}")

    for svc in blueprint["services"]:
        env: dict[str, str] = {}
        for entry in svc.get("envVars", []):
            value(svc["name"], entry, env, svc["name"])
        own[svc["name"]] = env
    for service, key, source, source_key in copies:
        if source_key in own[source]:
            own[service][key] = own[source][source_key]
    services = []
    for svc in blueprint["services"]:
        port = ports.get(svc["name"])
        env = _base(**own[svc["name"]], **({"PORT": str(port)} if port else {}))
        pre = svc.get("preDeployCommand")
        services.append(
            Service(
                svc["name"].removeprefix(files.RENDER_PREFIX),
                svc["type"],
                _argv(svc["dockerCommand"]),
                env,
                release=_argv(pre) if pre else None,
                port=port,
            )
        )
    plan = Plan("render", services, entry="executions")
    plan.release = [(s.release, s.env) for s in services if s.release]
    return plan


# --- Heroku ------------------------------------------------------------------------------------


def heroku(database_url: str) -> Plan:
    app = files.app_json()
    procfile = files.procfile()
    env: dict[str, str] = {}
    for key, spec in app["env"].items():
        if "value" in spec:
            env[key] = str(spec["value"])
        elif spec.get("generator") == "secret":
            env[key] = secrets.token_hex(32)
        else:
            assert spec.get("required") is False, (key, spec)
    assert "heroku-postgresql" in app["addons"]
    # The add-on's DATABASE_URL uses the postgres:// scheme.
    env["DATABASE_URL"] = "postgres://" + database_url.split("://", 1)[1]
    port = free_port()
    services = [
        Service("web", "web", _shell(procfile["web"]), _base(**env, PORT=str(port)), port=port),
        *(
            Service(kind, "worker", _shell(command), _base(**env))
            for kind, command in procfile.items()
            if kind not in ("web", "release")
        ),
    ]
    plan = Plan("heroku", services, entry="web")
    plan.release = [(_shell(procfile["release"]), _base(**env))]
    return plan


# --- Railway -----------------------------------------------------------------------------------


def railway(database_url: str) -> Plan:
    graph = files.railway_graph()
    resources = {r["address"]: r for r in graph["resources"]}
    services = [r for r in graph["resources"] if r["type"] == "service"]
    ports = {s["name"]: free_port() for s in services if s["deploy"].get("healthcheckPath")}
    resolved: dict[str, dict[str, str]] = {}

    def output(resource: str, name: str) -> str | None:
        node = resources[resource]
        if node["type"] == "database":
            assert name == "DATABASE_URL", name
            return database_url
        service = node["name"]
        if name == "RAILWAY_PRIVATE_DOMAIN":
            return LOOPBACK
        if name == "PORT" and service in ports:
            return str(ports[service])
        return variable(service, name)

    def variable(service: str, name: str) -> str | None:
        node = resources[f"service.{service}"]
        spec = node.get("variables", {}).get(name)
        if spec is None or spec["type"] == "preserve":
            return None  # never set in Railway
        if spec["type"] == "reference":
            return output(spec["resource"], spec["output"])
        assert spec["type"] == "literal", spec
        return REFERENCE.sub(
            lambda m: output(f"service.{m.group(1)}", m.group(2)) or "", str(spec["value"])
        )

    for node in services:
        env = {
            name: variable(node["name"], name) or ""  # a reference to an unset one: empty
            for name, spec in node.get("variables", {}).items()
            if spec["type"] != "preserve"  # never set in Railway
        }
        if node["name"] in ports:
            env["PORT"] = str(ports[node["name"]])  # Railway routes to the port it gives
        resolved[node["name"]] = env
    plan_services = []
    for node in services:
        deploy = node["deploy"]
        kind: Kind = (
            "cron"
            if deploy.get("cronSchedule")
            else "web"
            if deploy.get("healthcheckPath")
            else "worker"
        )
        pre = deploy.get("preDeployCommand")
        plan_services.append(
            Service(
                node["name"],
                kind,
                _argv(deploy["startCommand"]),
                _base(**resolved[node["name"]]),
                release=_one(pre),
                port=ports.get(node["name"]),
            )
        )
    plan = Plan("railway", plan_services, entry="registry")
    plan.release = [(s.release, s.env) for s in plan_services if s.release]
    return plan


def _one(commands: list[str] | None) -> list[str] | None:
    if not commands:
        return None
    assert len(commands) == 1, commands
    return _argv(commands[0])


# --- Docker Compose ----------------------------------------------------------------------------


def compose(database_url: str) -> Plan:
    spec = files.compose()
    apps = {n: s for n, s in spec["services"].items() if s.get("image") == files.APP_IMAGE}
    ports = {n: free_port() for n, s in apps.items() if s.get("ports") and not s.get("profiles")}

    def interpolate(text: str) -> str:
        # The shell has none of these variables: each takes its default.
        return COMPOSE_DEFAULT.sub(lambda m: m.group(2) or "", text)

    def address(text: str) -> str:
        parts = urlsplit(text)
        if parts.hostname == "postgres":
            return database_url
        if parts.hostname in ports:
            return urlunsplit(parts._replace(netloc=f"{LOOPBACK}:{ports[parts.hostname]}"))
        return text

    def environment(name: str) -> dict[str, str]:
        env = {}
        for key, raw in apps[name].get("environment", {}).items():
            if raw is None:
                continue  # passed through from the shell, which has none
            env[key] = address(interpolate(str(raw)))
        if name in ports:
            env["PORT"] = str(ports[name])  # the container port, published on loopback
        return env

    services: list[Service] = []
    release: list[tuple[list[str], dict[str, str]]] = []
    for name, svc in apps.items():
        profiles = svc.get("profiles", [])
        argv = [str(part) for part in svc["command"]]
        env = _base(**environment(name))
        if svc.get("restart") == "no" and not profiles:
            release.append((argv, env))  # the one-shot every other service waits for
        elif profiles == ["cron"]:
            services.append(Service(name, "cron", argv, env))
        elif not profiles:
            kind: Kind = "web" if name in ports else "worker"
            services.append(Service(name, kind, argv, env, port=ports.get(name)))
    return Plan("compose", services, entry="registry", release=release)


PLANS: dict[str, Callable[[str], Plan]] = {
    "render": render,
    "heroku": heroku,
    "railway": railway,
    "compose": compose,
}


def operator_keys(output: list[tuple[int, str]]) -> list[str]:
    """The operator keys the release commands printed (their banners)."""
    return [key for _, out in output for key in KEY.findall(out)]
