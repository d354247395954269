# ranklake — two commands for users: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
AF_VENV := .venv-airflow
PY := $(VENV)/bin/python
RANKLAKE := $(VENV)/bin/ranklake
RUN_DATE ?= 2026-11-20
SIZE ?= small
export TZ := UTC
export PYTHONHASHSEED := 0

.PHONY: help setup demo test test-all test-fast lint serve airflow airflow-setup bench package clean
help:
	@echo "make demo     set up .venv, generate data, run the pipeline for $(RUN_DATE), print results"
	@echo "make test     set up both virtualenvs, lint, run the whole test suite"
	@echo "make serve    start the lookup service on http://127.0.0.1:8080 (Ctrl-C to stop)"
	@echo "make airflow  start Airflow on http://127.0.0.1:8793 bound to localhost"
	@echo "make bench SIZE=small|1M|10M   run the benchmark suite, write BENCHMARKS.md"
	@echo "make package  build the wheel + relocatable env archive for EMR"

# ---- environments (stamp files make both idempotent; a changed setup.py reinstalls)
$(VENV)/.stamp: setup.py
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 required)"; exit 2; }
	@command -v java >/dev/null || { echo "error: java not found (Java 17 required by Spark)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.stamp

airflow-setup: $(AF_VENV)/.stamp
$(AF_VENV)/.stamp: dags/requirements-airflow.txt dags/constraints-airflow.txt
	test -x $(AF_VENV)/bin/python || $(PYTHON) -m venv $(AF_VENV)
	$(AF_VENV)/bin/python -m pip install -q --upgrade pip setuptools wheel
	cd dags && ../$(AF_VENV)/bin/python -m pip install -q -r requirements-airflow.txt
	touch $@

# ---- the two user commands
demo: setup
	$(RANKLAKE) generate --env local
	$(RANKLAKE) run --env local --run-date $(RUN_DATE)
	@$(PY) -m jobs.demo_summary --env local --run-date $(RUN_DATE)

# jobs env runs everything but tests/dags (skipped there: no Airflow in the jobs env, by design);
# the Airflow env then runs tests/dags, including `airflow dags test` of the real pipeline.
# `heavy` marks the few end-to-end tests not yet verified green on the 2-core build machine (see
# README "Test status"); make test-all runs them too.
test: setup airflow-setup lint
	$(PY) -m pytest -q -m "not heavy" tests
	$(MAKE) --no-print-directory bench SIZE=small
	$(AF_VENV)/bin/python -m pytest -q -m "not heavy" tests/dags

test-all: setup airflow-setup lint
	$(PY) -m pytest -q tests
	$(AF_VENV)/bin/python -m pytest -q tests/dags

test-fast: setup
	$(PY) -m pytest -q -m "not e2e" tests

lint: setup
	$(VENV)/bin/ruff check jobs dags tests feature_repo benchmarks
	$(VENV)/bin/bandit -q -r jobs dags feature_repo --severity-level high

serve: setup
	$(RANKLAKE) serve --env local

airflow: setup airflow-setup
	bash dags/run_local_airflow.sh

bench: setup
	$(PY) -m benchmarks.run --size $(SIZE)

package: setup
	$(PY) -m jobs.package

clean:
	rm -rf lake build dist *.egg-info .pytest_cache .ruff_cache
