"""PromptLedger on Railway, as Infrastructure as Code: ``railway config plan`` / ``apply``.

The whole project: PostgreSQL, one service per HTTP function (``registry``, ``executions``,
``analytics``, ``traces``, ``console``), the queue ``worker`` and the two platform crons. Every
service builds the repository's Dockerfile and only the start command differs; ``promptledger
migrate`` (schema, then the model catalogue) is each long-running service's pre-deploy command
(idempotent, serialised by an advisory lock), never in a request.

The Railway CLI evaluates this file with the ``python3`` first on its PATH (it loads the file,
calls ``main()`` and prints ``to_graph()``), so that interpreter needs ``railway-sdk`` and
nothing else: this file imports nothing from PromptLedger. Without installing anything into a
system Python (PEP 668)::

    uv run --no-project --with-requirements .railway/requirements.txt -- railway config apply

``tests/deploy`` renders it offline the same way, checks it against
``src/prompt_ledger/deploy.py`` and boots it locally.

One URL reaches every function: each function service listens on the private network (``PORT``
8080, ``HOST`` ``[::]`` for IPv4 and IPv6) and gets the others' private URL (``EXECUTIONS_URL``,
``REGISTRY_URL``); it forwards the requests it does not serve. Railway-generated public domains
cannot be declared here (its IaC leaves them out); ``railway domain --service registry`` makes one.

Secrets are not in this file. ``API_KEY`` lives on ``registry`` and ``OPENAI_API_KEY`` on
``executions`` (both ``preserve()``: keep what is set in Railway) and the other services
reference them. Railway's IaC has no generator that survives a second ``apply``, so ``API_KEY``
may stay unset: ``promptledger migrate`` then generates the operator key, stores its hash and
prints it once in the pre-deploy output (``promptledger operator-key rotate`` prints a new one).
Without ``OPENAI_API_KEY`` the labelled demo provider answers (``DEMO_FALLBACK=auto``).

``PROMPTLEDGER_REPO=owner/name`` (optionally ``PROMPTLEDGER_BRANCH``) connects the services to
that GitHub repository; without it they have no source and are deployed with
``railway up --service <name>``. See docs/deployment.md.
"""

from __future__ import annotations

import os
from typing import Any

from railway_sdk import define_railway, github, postgres, preserve, project, service

PROJECT = "prompt-ledger"
HEALTHCHECK = "/health"
MIGRATE = "promptledger migrate"
PORT = "8080"
FUNCTIONS = ("registry", "executions", "console", "analytics", "traces")


def _source() -> dict[str, Any]:
    repo = os.environ.get("PROMPTLEDGER_REPO")
    if not repo:
        return {}
    return {"source": github(repo, branch=os.environ.get("PROMPTLEDGER_BRANCH", "main"))}


def _private_url(name: str) -> str:
    """Another service's address on Railway's private network (resolved by Railway)."""
    return f"http://${{{{{name}.RAILWAY_PRIVATE_DOMAIN}}}}:${{{{{name}.PORT}}}}"


@define_railway
def main(ctx: Any = None) -> Any:
    db = postgres("Postgres")
    common: dict[str, Any] = {
        **_source(),
        "build": {"builder": "DOCKERFILE", "dockerfilePath": "Dockerfile"},
    }
    base_env: dict[str, Any] = {
        "DATABASE_URL": db.env.DATABASE_URL,
        "ENVIRONMENT": "production",
        "DEMO_FALLBACK": "auto",
    }

    def function(name: str, env: dict[str, Any]) -> Any:
        peers = {f"{o.upper()}_URL": _private_url(o) for o in FUNCTIONS if o != name}
        return service(
            name,
            **common,
            start=f"functions-framework --source functions/main.py --target {name}",
            preDeploy=MIGRATE,
            healthcheck=HEALTHCHECK,
            healthcheckTimeout=120,
            deploy={"restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10},
            env={**env, "PORT": PORT, "HOST": "[::]", **peers},
        )

    registry = function("registry", {**base_env, "API_KEY": preserve()})
    # Every process authenticates the operator: all of them get the registry's API_KEY (empty
    # while unset: the stored operator key then applies).
    app_env = {**base_env, "API_KEY": registry.env.API_KEY}
    executions = function("executions", {**app_env, "OPENAI_API_KEY": preserve()})
    # Span ingest and trace queries: scales apart from the registry and the executions.
    traces = function("traces", dict(app_env))
    # The web console calls the services in process: the executions function's environment.
    console = function("console", {**app_env, "OPENAI_API_KEY": executions.env.OPENAI_API_KEY})
    analytics = function("analytics", dict(app_env))
    worker = service(
        "worker",
        **common,
        start="promptledger worker",
        preDeploy=MIGRATE,
        deploy={"restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10},
        env={
            **app_env,
            "OPENAI_API_KEY": executions.env.OPENAI_API_KEY,
            # Railway's default is 0 s: SIGKILL right after SIGTERM. Give in-flight jobs
            # WORKER_SHUTDOWN_GRACE (30 s) to finish.
            "RAILWAY_DEPLOYMENT_DRAINING_SECONDS": "40",
        },
    )
    # Railway crons: the start command runs on the schedule (UTC, at most every 5 minutes) and
    # must exit. The worker runs the same tasks periodically; these keep upkeep going while no
    # worker runs.
    recover = service(
        "recover",
        **common,
        start="promptledger jobs recover",
        deploy={"cronSchedule": "*/5 * * * *", "restartPolicyType": "NEVER"},
        env=dict(app_env),
    )
    prune = service(
        "prune",
        **common,
        start="promptledger jobs prune",
        deploy={"cronSchedule": "17 * * * *", "restartPolicyType": "NEVER"},
        env=dict(app_env),
    )
    services = [registry, executions, console, analytics, traces, worker, recover, prune]
    return project(PROJECT, resources=[db, *services])
