# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Only Python 3.11, make and the system services (Redis, PostgreSQL) are assumed; uv is bootstrapped.

SHELL := /bin/bash
PYTHON ?= python3.11
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen
export UV_PYTHON := $(PYTHON)
export FP_DATA_DIR ?= fp_data
DEMO_ARGS ?=

.PHONY: env demo test bench soak golden lint typecheck ui services browser clean help

help:
	@echo "make demo   - set up, make demo data, compile/plan/publish/index the example features, load them online and serve one"
	@echo "make test   - set up, start what the tests need, run the whole suite"
	@echo "make bench  - run the benchmarks (figures go to benchmarks/RESULTS.md by hand)"
	@echo "make soak   - the streaming indexer's crash test at scale (>100k events, 40 SIGKILLs; needs Redis)"
	@echo "make golden - regenerate the golden compiled artefacts under tests/golden"
	@echo "make lint   - ruff, mypy and the import contract"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

env: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv) .venv/.synced

.venv/.synced: pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

services:
	@bash scripts/ensure_services.sh

# Debian's Chromium, driven by Playwright in the UI test (no browser download at test time).
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || \
	  echo "warning: could not install chromium; the UI test will skip (or fail in CI)"; }

demo: env
	@UV="$(UV)" bash scripts/demo.sh

# Two workers; --dist loadgroup keeps the tests of one @pytest.mark.xdist_group on one worker. The
# Hypothesis profile is "ci" (derandomised, fixed counts; see tests/conftest.py) when CI is set, else
# "dev"; HYPOTHESIS_PROFILE overrides. pytest-timeout (pyproject.toml) fails a hung test by name.
test: env services browser
	$(RUN) lint-imports
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-$(if $(filter-out 0 false no,$(CI)),ci,dev)} \
	  $(RUN) pytest -n 2 --dist loadgroup -q --durations=15

bench: env
	$(RUN) python -m benchmarks.run_all

ui: env
	@export DAGSTER_HOME=$${DAGSTER_HOME:-$(abspath $(FP_DATA_DIR))/dagster_home}; mkdir -p $$DAGSTER_HOME; \
	touch $$DAGSTER_HOME/dagster.yaml; echo "Dagster UI on http://127.0.0.1:$${FP_UI_PORT:-3000} (DAGSTER_HOME=$$DAGSTER_HOME)"; \
	FP_DAGSTER_WEBSERVER_URL=http://127.0.0.1:$${FP_UI_PORT:-3000} \
	  $(RUN) dagster dev -w workspace.yaml -h 127.0.0.1 -p $${FP_UI_PORT:-3000}

# The in-suite crash test at scale: the fault data (demo set + ties) replayed 9 times (~112k log entries; the
# test fails under FP_STREAM_MIN_ENTRIES) while the indexer is SIGKILLed 40 times; run it 5 times
# (FP_SOAK_RUNS), one seed each. Needs Redis on 127.0.0.1:6379.
soak: env services
	for run in $$(seq 1 $${FP_SOAK_RUNS:-5}); do \
	  FP_REQUIRE_SERVICES=1 FP_SOAK_REPEAT=9 FP_STREAM_KILLS=40 FP_STREAM_PRODUCE_SECONDS=40 FP_STREAM_SEED=$$run \
	  FP_STREAM_MIN_ENTRIES=100000 \
	    $(RUN) pytest -q -p no:cacheprovider --timeout 1800 tests/stream/test_faults.py -k killed || exit 1; \
	done

golden: env
	$(RUN) python -m tests.golden.regenerate

lint: env
	$(RUN) ruff check .
	$(RUN) mypy
	$(RUN) lint-imports

typecheck: env
	$(RUN) mypy

clean:
	rm -rf $(FP_DATA_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
