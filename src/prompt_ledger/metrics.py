"""Prometheus metrics (prometheus-client), all under the ``promptledger_`` prefix.

Web functions serve them at ``GET /metrics``; the worker serves its own on
``WORKER_METRICS_PORT``. The seeds' job metrics (jobs_total, jobs_duration_seconds,
jobs_failed_total, active_jobs) are here under our prefix."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

PREFIX = "promptledger"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

http_requests = Counter(
    f"{PREFIX}_http_requests_total",
    "HTTP requests handled.",
    ["function", "route", "method", "status"],
)
http_duration = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "HTTP request duration.",
    ["function", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
executions = Counter(
    f"{PREFIX}_executions_total",
    "Executions finished, by outcome.",
    ["status", "provider", "model", "served_by"],
)
execution_tokens = Counter(
    f"{PREFIX}_execution_tokens_total", "Tokens used by executions.", ["provider", "model", "kind"]
)
execution_cost = Counter(
    f"{PREFIX}_execution_cost_usd_total", "Cost of executions in USD.", ["provider", "model"]
)
provider_latency = Histogram(
    f"{PREFIX}_provider_latency_seconds",
    "Provider call duration.",
    ["provider", "model", "outcome"],
    buckets=LATENCY_BUCKETS,
)
jobs = Counter(
    f"{PREFIX}_jobs_total", "Queue jobs run by the worker, by outcome.", ["task", "status"]
)
jobs_failed = Counter(f"{PREFIX}_jobs_failed_total", "Queue jobs that raised.", ["task"])
jobs_duration = Histogram(
    f"{PREFIX}_jobs_duration_seconds", "Queue job duration.", ["task"], buckets=LATENCY_BUCKETS
)
active_jobs = Gauge(f"{PREFIX}_active_jobs", "Queue jobs running now in this worker.", ["task"])
queue_jobs = Gauge(
    f"{PREFIX}_queue_jobs",
    "Queue jobs in the database, by queue and status (read at scrape time).",
    ["queue", "status"],
)
workers_alive = Gauge(
    f"{PREFIX}_workers_alive",
    "Queue workers whose heartbeat is fresh, in the whole deployment (read at scrape time).",
)
worker_restarts = Counter(
    f"{PREFIX}_worker_restarts_total",
    "Times this process's queue worker stopped on an error (e.g. the database went away) and "
    "was started again.",
)
read_timeouts = Counter(
    f"{PREFIX}_request_read_timeouts_total",
    "Requests whose headers or body did not arrive within REQUEST_READ_TIMEOUT (408).",
)
rate_limited = Counter(
    f"{PREFIX}_rate_limited_total",
    "Requests refused with 429 because their key used up its per-minute limit.",
    ["kind"],
)
renders_running = Gauge(
    f"{PREFIX}_template_renders_running", "Template renders running now in this process."
)
renders_stopped = Counter(
    f"{PREFIX}_template_renders_stopped_total",
    "Template renders stopped or refused by the sandbox (budget used up, unsafe operation).",
)
provider_attempts_lost = Counter(
    f"{PREFIX}_provider_attempts_lost_total",
    "Provider attempts whose process stopped before recording their outcome (cost unknown).",
)
ledger_writes_pending = Gauge(
    f"{PREFIX}_ledger_writes_pending",
    "Outcomes of provider calls held in this process until the database takes them.",
)
cache_lookups = Counter(
    f"{PREFIX}_cache_lookups_total", "In-process cache lookups.", ["cache", "result"]
)


def record_execution(
    *,
    status: str,
    provider: str,
    model: str,
    served_by: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost_usd: Decimal | None,
    provider_seconds: float,
) -> None:
    executions.labels(status, provider, model, served_by).inc()
    provider_latency.labels(provider, model, status).observe(provider_seconds)
    if prompt_tokens:
        execution_tokens.labels(provider, model, "prompt").inc(prompt_tokens)
    if completion_tokens:
        execution_tokens.labels(provider, model, "completion").inc(completion_tokens)
    if cost_usd:
        execution_cost.labels(provider, model).inc(float(cost_usd))


def set_queue_depth(rows: list[dict[str, object]]) -> None:
    queue_jobs.clear()
    for row in rows:
        queue_jobs.labels(str(row["queue_name"]), str(row["status"])).set(float(str(row["jobs"])))


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
