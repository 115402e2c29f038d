# 审管互动平台 — the two commands are `make run` and `make test`; nothing else to set up.
#
# The virtualenv lives in .venv and is (re)installed from pyproject.toml + constraints.txt
# only when one of them is newer than .venv/.installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check

# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-k login -x"`.
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run test test-fast lint schema constraints clean bench bench-quick fuzz faults

help:
	@echo "make run        start everything (migrate, demo data, embedded Redis, API + worker)"
	@echo "make test       the whole suite (PostgreSQL too when TEST_DATABASE_URL is set)"
	@echo "make test-fast  the pure domain tests, in seconds"
	@echo "make lint       ruff, ruff format --check, mypy (strict), import-linter layers"
	@echo "make schema     write schema.graphql from the code"
	@echo "make fuzz       generated queries and mutations as every role, thousands of them"
	@echo "make faults     the fault tests with real processes, at a larger scale"
	@echo "make clean      remove .venv and var/"

# The top-level package markers are prerequisites too: a package added after the
# editable install is not on its import map until the project is reinstalled.
$(STAMP): pyproject.toml constraints.txt $(wildcard api/__init__.py models/__init__.py workers/__init__.py)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (pip log: $(VENV)/install.log)..."
	@$(PIP_INSTALL) -e '.[dev]' -c constraints.txt > $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log >&2; echo "pip install failed" >&2; exit 1; }
	@touch $@

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/shenguan run

# pytest exits 5 when it collected nothing: a suite that ran no test has not passed.
define run_pytest
	@echo '$(BIN)/pytest $(1)'; rc=0; $(BIN)/pytest $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc
endef

test: $(STAMP)
	$(call run_pytest,-q $(PYTEST_ARGS))

test-fast: $(STAMP)
	$(call run_pytest,-q tests/models -m "not postgres and not redis" $(PYTEST_ARGS))

# All four checks run even when one fails, so one run shows everything to fix.
lint: $(STAMP)
	@rc=0; for check in "ruff check ." "ruff format --check ." "mypy" "lint-imports"; do \
		echo "$(BIN)/$$check"; $(BIN)/$$check || rc=1; \
	done; exit $$rc

# The suite runs small samples of both; these run them big (minutes, not seconds).
fuzz: export FUZZ_EXAMPLES ?= 500
fuzz: $(STAMP)
	$(call run_pytest,-q tests/api/test_fuzz.py $(PYTEST_ARGS))

faults: export FAULT_SCALE ?= 4
faults: $(STAMP)
	$(call run_pytest,-q tests/api/test_faults.py tests/api/test_postgres_restart.py tests/api/test_live_faults.py tests/api/test_concurrency.py $(PYTEST_ARGS))

schema: $(STAMP)
	$(BIN)/python -m api.schema_export

# Benchmarks with baselines measured in the same run (bench/README.md); never part of `make test`.
# They need PostgreSQL (BENCH_PG_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres)
# and use REDIS_URL when set, else the embedded Redis. Results land in bench/results/.
bench: $(STAMP)
	$(BIN)/python -m bench run

bench-quick: $(STAMP)
	$(BIN)/python -m bench run --quick

# Re-pin every installed version after changing a pin in pyproject.toml: installs
# without the old constraints (they would refuse the new pin), then freezes.
constraints:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --quiet -e '.[dev]'
	@{ echo "# Every package version tested together (pip freeze of the dev venv, minus the project)."; \
	   echo "# Regenerate: make constraints   (after changing a pin in pyproject.toml)"; \
	   $(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | grep -viE '^(shenguan[ =]|-e )'; \
	} > constraints.txt.new && mv constraints.txt.new constraints.txt
	@touch $(STAMP)

clean:
	rm -rf $(VENV) var/ .pytest_cache .mypy_cache .ruff_cache *.egg-info
