"""Configuration: one validated object read from the environment (the seeds' variable names)."""

from __future__ import annotations

import os
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from prompt_ledger.startup_errors import SettingsError

DEFAULT_API_KEY = "dev-key-change-in-production"
# The deployable functions, in the order of prompt_ledger.functions.FUNCTIONS (a test keeps the
# two in step): each gets a <NAME>_URL variable. Named here so that the settings need not import
# the functions (which import the settings).
FUNCTION_NAMES = ("registry", "executions", "analytics", "traces", "console")


class Settings(BaseSettings):
    """Everything PromptLedger reads from its environment.

    Built on demand (never at import time) and overridable in tests by passing fields.
    """

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )

    database_url: str | None = Field(
        default=None,
        description="libpq URL of the database (postgres:// and postgresql:// accepted).",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="The instance operator's key (bootstrap): projects, the model catalogue, "
        "the keys of every project. Unset: the development key, or in production the key "
        "`promptledger migrate` generated and stored (hashed).",
    )
    environment: str = Field(default="development", description="development | production | ...")
    debug: bool = False
    port: int = Field(default=8080, ge=1, le=65535)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    demo_fallback: bool | Literal["auto"] = Field(
        default=False,
        description="Answer executions for unconfigured providers with the offline demo provider "
        "(labelled served_by=demo). `promptledger dev` turns it on when no provider key is set; "
        "`true` is refused in production. `auto` (what the deploy files set): only while no "
        "provider at all is configured, so a fresh deploy answers; allowed in production.",
    )
    provider_timeout: float = Field(default=60.0, gt=0, description="Seconds per provider call.")
    default_provider: str = "openai"
    default_model: str = "gpt-4o-mini"
    max_attempts: int = Field(default=5, ge=1, le=50, description="Attempts per async execution.")
    retry_base_seconds: float = Field(default=1.0, ge=0)
    retry_max_seconds: float = Field(default=300.0, ge=0)
    stalled_after_seconds: float = Field(
        default=30.0, gt=0, description="Worker heartbeat age after which its jobs are retried."
    )
    orphan_after_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Age after which an unfinished async execution with no live queue job "
        "(deleted, or aborted past the shutdown grace) is re-queued by the recovery task.",
    )
    ledger_write_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long a sync run whose provider answered waits for the database to "
        "record the outcome (when it is away) before answering anyway with "
        "`Ledger-Write: pending`; the outcome is then written by a background retry.",
    )
    worker_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often an idle worker looks for jobs that became due (retries after "
        "their backoff); new jobs wake it at once through LISTEN/NOTIFY.",
    )
    job_retention_hours: int = Field(default=24, ge=1)
    worker_metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Prometheus port of the worker (0: off)."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics answers only requests with `Authorization: Bearer "
        "<token>` (401 otherwise); unset, /metrics is open (keep it on a private network).",
    )
    metrics_refresh_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="How often each process refreshes the gauges read from the database (queue "
        "depth, live workers) in the background; a scrape reads the last values, no query.",
    )
    worker_concurrency: int = Field(default=10, ge=1, le=200)
    worker_shutdown_grace: float = Field(default=30.0, ge=0)
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    request_read_timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's body (and, with `promptledger "
        "serve`/`dev`, its headers): 408 and the connection closed after (slow clients "
        "cannot hold connections open).",
    )
    rate_limit_requests_per_minute: int = Field(
        default=6000,
        ge=0,
        description="Requests one API key may make per minute, across every process (429 with "
        "Retry-After above); a key's own requests_per_minute overrides it; 0: no limit. The "
        "bootstrap operator key (API_KEY) is not limited.",
    )
    rate_limit_executions_per_minute: int = Field(
        default=600,
        ge=0,
        description="Executions (:run, :submit) one API key may start per minute, across every "
        "process; a key's own executions_per_minute overrides it; 0: no limit.",
    )
    template_render_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Wall-clock budget of one template render (besides its fixed budget of "
        "loop iterations and calls); a render that uses it up is stopped with a 422.",
    )
    cache_ttl_seconds: float = Field(
        default=30.0,
        ge=0,
        description="In-process cache of resolved prompts and API keys (0 disables); writes "
        "evict it in every process through LISTEN/NOTIFY.",
    )
    promptledger_schema_dir: str | None = Field(
        default=None,
        description="The alembic migrations folder (the image sets /app/schema); unset: "
        "./schema, else the source checkout's.",
    )
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    # --- traces ------------------------------------------------------------------------------
    trace_max_batch_spans: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most spans one trace ingest request may carry (413 above).",
    )
    trace_retention_days: int = Field(
        default=30,
        ge=0,
        description="Spans received longer ago than this are deleted by the retention job "
        "(0 keeps them forever).",
    )
    trace_retention_batch: int = Field(
        default=5000,
        ge=1,
        le=1_000_000,
        description="Spans the retention job deletes per statement (short transactions, short "
        "locks).",
    )
    # --- console and browser clients ---------------------------------------------------------
    cors_origins: str = Field(
        default="",
        description="Origins allowed to call the API from a browser (CORS), comma-separated, "
        "e.g. 'https://app.example.com,http://localhost:3000'; '*' allows any origin. None by "
        "default.",
    )
    console_session_hours: float = Field(
        default=12.0,
        gt=0,
        le=168,
        description="A console session ends after this many hours without a request (and "
        "after 7 days in any case).",
    )
    # --- deploy: one URL reaches every function ---------------------------------------------
    function_urls: dict[str, str] = Field(
        default={},
        description="Base URL of each other function, read from <NAME>_URL (REGISTRY_URL, "
        "EXECUTIONS_URL, ... one per function of FUNCTION_NAMES; or all at "
        "once as JSON in FUNCTION_URLS); a request for an endpoint another function serves is "
        "forwarded there. Accepts http://host:port, host:port or a bare host.",
    )
    forward_timeout_margin: float = Field(
        default=15.0,
        ge=0,
        description="Seconds a forwarded request may take beyond PROVIDER_TIMEOUT.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _FunctionUrls(settings_cls),
            file_secret_settings,
        )

    @field_validator("demo_fallback", mode="before")
    @classmethod
    def _demo_fallback(cls, value: object) -> object:
        """``true``/``false`` (any spelling pydantic reads as a boolean) or ``auto``: one error
        for anything else."""
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        if text in {"1", "true", "t", "yes", "y", "on"}:
            return True
        if text in {"0", "false", "f", "no", "n", "off"}:
            return False
        raise ValueError("expected true, false or auto")

    @field_validator("function_urls")
    @classmethod
    def _normalise_function_urls(cls, urls: dict[str, str]) -> dict[str, str]:
        return {name: base_url(url, f"{name.upper()}_URL") for name, url in urls.items() if url}

    @model_validator(mode="after")
    def _refuse_default_key_in_production(self) -> Self:
        given = self.api_key.get_secret_value() if self.api_key is not None else None
        if self.is_production and given == DEFAULT_API_KEY:
            raise ValueError(
                "API_KEY is the default development key; set a strong API_KEY when "
                "ENVIRONMENT=production (or leave it unset: `promptledger migrate` then "
                "generates an operator key)"
            )
        if self.is_production and self.demo_fallback is True:
            raise ValueError(
                "DEMO_FALLBACK=true cannot be enabled when ENVIRONMENT=production "
                "(DEMO_FALLBACK=auto answers only while no provider is configured)"
            )
        return self

    @property
    def allowed_origins(self) -> frozenset[str]:
        """CORS_ORIGINS as a set of origins (scheme://host[:port], no trailing slash)."""
        return frozenset(
            origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()
        )

    @property
    def is_production(self) -> bool:
        return self.environment.strip().lower() in {"production", "prod"}

    @property
    def operator_key(self) -> str | None:
        """The operator key processes compare against: API_KEY, else the development key
        outside production, else None (the key stored by `promptledger migrate`)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        return None if self.is_production else DEFAULT_API_KEY

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SettingsError(
                "DATABASE_URL is not set: set it to your PostgreSQL URL, or use "
                "`promptledger dev`, which starts an embedded PostgreSQL"
            )
        return libpq_url(self.database_url)


def libpq_url(url: str) -> str:
    """Normalise the URL shapes platforms inject into one libpq understands.

    Railway and Heroku hand out ``postgres://``; the seeds used ``postgresql+asyncpg://``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    base = scheme.split("+", 1)[0]
    if base in {"postgres", "postgresql"}:
        return f"postgresql://{rest}"
    return url


def sqlalchemy_url(url: str) -> str:
    """The same database as a SQLAlchemy URL (alembic only; no ORM at run time)."""
    return "postgresql+psycopg://" + libpq_url(url).removeprefix("postgresql://")


# --- deploy: one URL reaches every function --------------------------------------------------


class _FunctionUrls(PydanticBaseSettingsSource):
    """``function_urls`` from one ``<NAME>_URL`` variable per function of
    :data:`FUNCTION_NAMES`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        urls = {name: os.environ.get(f"{name.upper()}_URL", "").strip() for name in FUNCTION_NAMES}
        found = {name: url for name, url in urls.items() if url}
        return {"function_urls": found} if found else {}


def base_url(value: str, variable: str) -> str:
    """``http://host:port``, ``host:port`` (Render's ``hostport``) or a bare host, as a base
    URL without a trailing slash."""
    text = value.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise ValueError(f"{variable}: invalid port in {value!r}") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
        raise ValueError(
            f"{variable}: expected http://host:port, host:port or a host, got {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
