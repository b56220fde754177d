"""PromptLedger on Railway, as Infrastructure as Code: ``railway config plan`` / ``apply``.

The whole project: PostgreSQL, one service per HTTP function (``registry``, ``executions``), the
queue ``worker`` and the two platform crons. Every service builds the repository's Dockerfile
and only the start command differs; migrations run as each long-running service's pre-deploy
command (idempotent, serialised by an advisory lock), never in a request.

Evaluated by the Railway CLI with ``python3`` (``pip install railway-sdk``); it imports nothing
from PromptLedger, so the CLI's interpreter needs only ``railway-sdk``. ``tests/deploy`` renders
it offline with ``main().to_graph()`` and checks it against ``src/prompt_ledger/deploy.py``.

Secrets are not in this file. ``API_KEY`` lives on ``registry`` and ``OPENAI_API_KEY`` on
``executions`` (both ``preserve()``: keep what is set in Railway); the other services reference
them, so each is set once, after the first ``railway config apply``::

    railway variables --service registry --set "API_KEY=$(openssl rand -hex 32)"
    railway variables --service executions --set "OPENAI_API_KEY=sk-..."

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


def _source() -> dict[str, Any]:
    repo = os.environ.get("PROMPTLEDGER_REPO")
    if not repo:
        return {}
    return {"source": github(repo, branch=os.environ.get("PROMPTLEDGER_BRANCH", "main"))}


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
    }

    registry = service(
        "registry",
        **common,
        start="functions-framework --source functions/main.py --target registry",
        preDeploy=MIGRATE,
        healthcheck=HEALTHCHECK,
        healthcheckTimeout=120,
        deploy={"restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10},
        env={**base_env, "API_KEY": preserve()},
    )
    # Every process validates its settings at start-up, and ENVIRONMENT=production refuses the
    # default development key: all of them get the registry's API_KEY.
    app_env = {**base_env, "API_KEY": registry.env.API_KEY}
    executions = service(
        "executions",
        **common,
        start="functions-framework --source functions/main.py --target executions",
        preDeploy=MIGRATE,
        healthcheck=HEALTHCHECK,
        healthcheckTimeout=120,
        deploy={"restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10},
        env={**app_env, "OPENAI_API_KEY": preserve()},
    )
    # The web console calls the services in process: the executions function's environment.
    console = service(
        "console",
        **common,
        start="functions-framework --source functions/main.py --target console",
        preDeploy=MIGRATE,
        healthcheck=HEALTHCHECK,
        healthcheckTimeout=120,
        deploy={"restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10},
        env={**app_env, "OPENAI_API_KEY": executions.env.OPENAI_API_KEY},
    )
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
    return project(PROJECT, resources=[db, registry, executions, console, worker, recover, prune])
