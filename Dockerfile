# syntax=docker/dockerfile:1
# One image for every PromptLedger process; the command picks the service (see
# src/prompt_ledger/deploy.py and docs/deployment.md):
#
#   functions-framework --source functions/main.py --target registry     # one function
#   functions-framework --source functions/main.py --target executions
#   promptledger serve                                                  # every function (default)
#   promptledger worker                                                 # queue worker, no HTTP
#   promptledger migrate                                                # release / pre-deploy only
#   promptledger jobs recover | promptledger jobs prune                 # platform cron
#
# Build from the repository root: docker build -t promptledger .

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: wheels only, at the versions of locks/server.txt --------------------------------------
# Every pinned dependency ships a wheel for linux x86_64 and aarch64 on CPython 3.11, so no
# compiler is installed and --only-binary refuses a source build. The dependencies come first (a
# layer that changes only with the lock), then the project itself.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY locks/server.txt ./locks/server.txt
RUN /opt/venv/bin/pip install --only-binary=:all: -r locks/server.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

# --- runtime: no compilers, non-root, CA certificates for the providers' TLS -------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PROMPTLEDGER_SCHEMA_DIR=/app/schema \
    PORT=8080
WORKDIR /app
# The deploy folders are loaded by path (functions-framework --source, alembic, the worker);
# they are never installed as top-level packages.
COPY functions ./functions
COPY jobs ./jobs
COPY schema ./schema
COPY infra/healthcheck.py infra/start-web.sh ./infra/
USER app
EXPOSE 8080

# Web services only: GET http://127.0.0.1:$PORT/health must answer 200 (the database answers).
# The worker, cron and migrate containers have no HTTP port: they override it
# (compose: `healthcheck: {disable: true}`; platforms ignore image healthchecks).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/infra/healthcheck.py"]

CMD ["promptledger", "serve"]
