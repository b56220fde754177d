"""The catalogue of deployable services: the one source every deploy file is checked against.

Each platform file (``infra/compose.yaml``, ``.railway/railway.py``, ``render.yaml``,
``app.json`` + ``Procfile``, ``Dockerfile``) describes some of these services in its own dialect;
``tests/deploy`` reads every file back and compares it with :data:`SERVICES`, so a service added
here (or a function added to :data:`prompt_ledger.functions.FUNCTIONS`) fails the tests until
every platform runs it.

Commands are argv tuples run from the application directory (the repository root, ``/app`` in
the image). They read ``PORT`` and the rest of their configuration from the environment, so no
command needs a shell.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal

from prompt_ledger.functions import FUNCTIONS
from prompt_ledger.http.forward import url_variable

Kind = Literal["web", "worker", "cron", "release"]

HEALTH_PATH = "/health"
FUNCTIONS_SOURCE = "functions/main.py"
MIN_CRON_MINUTES = 5  # Railway's floor; Render's is lower


@dataclass(frozen=True)
class Service:
    """One process a deployment runs.

    - ``web`` serves HTTP on ``$PORT`` and answers ``health_path`` with 200 once its database
      answers;
    - ``worker`` runs until stopped (no HTTP port);
    - ``cron`` runs once and exits, on ``schedule`` (5-field crontab, UTC);
    - ``release`` runs once before a new version starts (pre-deploy / release phase), never in a
      web request path.

    ``replaces`` names the services this one stands in for in a smaller topology (the gateway
    serves every function from one process).
    """

    name: str
    kind: Kind
    command: tuple[str, ...]
    health_path: str | None = None
    schedule: str | None = None
    description: str = ""
    replaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.command:
            raise ValueError(f"{self.name}: empty command")
        if (self.kind == "web") != (self.health_path is not None):
            raise ValueError(f"{self.name}: a health path is required for web services only")
        if (self.kind == "cron") != (self.schedule is not None):
            raise ValueError(f"{self.name}: a schedule is required for cron services only")
        if self.schedule is not None:
            check_schedule(self.schedule)

    @property
    def shell(self) -> str:
        """The command as one string, for platforms that take a start command string."""
        return shlex.join(self.command)


def check_schedule(schedule: str) -> None:
    """Refuse crontab schedules Railway would refuse: 5 fields, at most every 5 minutes."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"cron schedule {schedule!r} must have 5 fields (UTC)")
    minute = fields[0]
    step = minute.removeprefix("*/")
    parts = [step] if step != minute else minute.split(",")
    if not all(part.isdigit() for part in parts):
        raise ValueError(
            f"cron schedule {schedule!r}: the minute field must be '*/N' (N >= 5) or minutes "
            "0-59 separated by commas"
        )
    if step != minute:
        if int(step) < MIN_CRON_MINUTES:
            raise ValueError(f"cron schedule {schedule!r} runs more often than every 5 minutes")
        return
    minutes = sorted(int(part) for part in parts)
    if any(m > 59 for m in minutes):
        raise ValueError(f"cron schedule {schedule!r}: minutes must be 0-59")
    gaps = [b - a for a, b in zip(minutes, [*minutes[1:], minutes[0] + 60], strict=True)]
    if len(minutes) > 1 and min(gaps) < MIN_CRON_MINUTES:
        raise ValueError(f"cron schedule {schedule!r} runs more often than every 5 minutes")


def _function(name: str) -> Service:
    return Service(
        name=name,
        kind="web",
        command=("functions-framework", "--source", FUNCTIONS_SOURCE, "--target", name),
        health_path=HEALTH_PATH,
        description=f"The {name} HTTP function (functions-framework, one function per process).",
    )


FUNCTION_SERVICES: tuple[Service, ...] = tuple(_function(name) for name in FUNCTIONS)

GATEWAY = Service(
    name="gateway",
    kind="web",
    command=("promptledger", "serve"),
    health_path=HEALTH_PATH,
    description="Every function from one process: the cheaper single-web-service alternative.",
    replaces=tuple(s.name for s in FUNCTION_SERVICES),
)
WORKER = Service(
    name="worker",
    kind="worker",
    command=("promptledger", "worker"),
    description="Queue worker: queued executions and the periodic upkeep (no HTTP port).",
)
MIGRATE = Service(
    name="migrate",
    kind="release",
    command=("promptledger", "migrate"),
    description="Schema migrations (idempotent, serialised by an advisory lock); pre-deploy only.",
)
RECOVER = Service(
    name="recover",
    kind="cron",
    command=("promptledger", "jobs", "recover"),
    schedule="*/5 * * * *",
    description="Retry jobs of dead workers, re-queue orphaned executions, fail abandoned runs.",
)
PRUNE = Service(
    name="prune",
    kind="cron",
    command=("promptledger", "jobs", "prune"),
    schedule="17 * * * *",
    description="Delete finished queue jobs older than JOB_RETENTION_HOURS (hourly).",
)

SERVICES: tuple[Service, ...] = (*FUNCTION_SERVICES, GATEWAY, WORKER, MIGRATE, RECOVER, PRUNE)


def service(name: str) -> Service:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no service {name!r}; the catalogue has {[s.name for s in SERVICES]}")


def topology(*, gateway: bool) -> tuple[Service, ...]:
    """The services one deployment runs: per-function web services, or the gateway instead."""
    replaced = {name for s in SERVICES for name in s.replaces}
    if gateway:
        return tuple(s for s in SERVICES if s.name not in replaced)
    return tuple(s for s in SERVICES if not s.replaces)


# --- deploy: one URL reaches every function ----------------------------------------------------


def peers(function: str) -> dict[str, str]:
    """The URL variable of every other function, by variable: what a per-function deploy sets
    on ``function`` so that its URL reaches every endpoint."""
    return {
        url_variable(other.name): other.name
        for other in FUNCTION_SERVICES
        if other.name != function
    }
