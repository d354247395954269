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

.PHONY: help setup demo test test-all test-airflow test-jobs test-fast lint serve airflow airflow-setup bench package clean
help:
	@echo "make demo     set up .venv, generate data, run the pipeline for $(RUN_DATE), print results"
	@echo "make test     set up both virtualenvs, lint, run the whole test suite"
	@echo "make serve    start the lookup service on http://127.0.0.1:8080 (Ctrl-C to stop)"
	@echo "make airflow  start Airflow on http://127.0.0.1:8793 bound to localhost"
	@echo "make bench SIZE=small|1M|10M   run the benchmark suite, write BENCHMARKS.md"
	@echo "make package  build the wheel + relocatable env archive for EMR"

# ---- environments (stamp files make both idempotent; a changed setup.py reinstalls)
# Bytecode is compiled once here, explicitly: where PYTHONDONTWRITEBYTECODE is set (as on the
# build machine) Python never caches it, so every process (each CLI run, Airflow task, Spark
# Python worker) compiled every module it imported from source. Measured: `import airflow` 5.5 ->
# 2.3 s; a fresh Spark worker's first publish task 2.0 -> 0.6 s of CPU.
$(VENV)/.stamp: setup.py
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 required)"; exit 2; }
	@command -v java >/dev/null || { echo "error: java not found (Java 17 required by Spark)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q --no-compile -e ".[dev]"
	$(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" jobs > /dev/null
	touch $@

setup: $(VENV)/.stamp

airflow-setup: $(AF_VENV)/.stamp
$(AF_VENV)/.stamp: dags/requirements-airflow.txt dags/constraints-airflow.txt
	test -x $(AF_VENV)/bin/python || $(PYTHON) -m venv $(AF_VENV)
	$(AF_VENV)/bin/python -m pip install -q --upgrade pip setuptools wheel
	cd dags && ../$(AF_VENV)/bin/python -m pip install -q --no-compile -r requirements-airflow.txt
	$(AF_VENV)/bin/python -m compileall -q -j 0 "$$($(AF_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" > /dev/null
	touch $@

# ---- the two user commands
demo: setup
	$(RANKLAKE) generate --env local
	$(RANKLAKE) run --env local --run-date $(RUN_DATE)
	@$(PY) -m jobs.demo_summary --env local --run-date $(RUN_DATE)

# The Airflow env runs tests/dags (incl. `airflow dags test` of the real pipeline); the jobs env
# runs everything else (tests/dags is skipped there: no Airflow in the jobs env, by design).
# `heavy` marks the tests too slow for CI time (README "Test status"); make test-all runs them too.
# Most test time is Spark's single-threaded driver work (planning, scheduling), so concurrent
# sessions overlap well on two cores: the Airflow suite and the jobs suite (two pytest workers,
# whole files per worker) run at the same time, each target's output printed when it ends.
# The Airflow end-to-end `airflow dags test` leaves its finished lake in $(E2E_HOME); after both
# suites, tests/topk/test_topk_e2e.py checks that lake and the benchmark smoke run adopts it
# (--from-lake) instead of running the stages again.
PYTEST_WORKERS ?= 2
E2E_HOME := $(CURDIR)/build/e2e-lake
AFTER_E2E := tests/topk/test_topk_e2e.py
MARKS ?= not heavy
test:
	$(MAKE) --no-print-directory -j2 setup airflow-setup
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-airflow test-jobs
	RANKLAKE_E2E_HOME=$(E2E_HOME) $(PY) -m pytest -q -m "$(MARKS)" $(AFTER_E2E)
	$(MAKE) --no-print-directory bench SIZE=small BENCH_ARGS="--from-lake $(E2E_HOME)"

test-all:
	$(MAKE) --no-print-directory test MARKS="heavy or not heavy"

test-airflow: setup airflow-setup
	RANKLAKE_E2E_HOME=$(E2E_HOME) $(AF_VENV)/bin/python -m pytest -q --durations=15 -m "$(MARKS)" tests/dags

test-jobs: setup
	$(PY) -m pytest -q --durations=25 -n $(PYTEST_WORKERS) --dist loadfile -m "$(MARKS)" \
	  --ignore=$(AFTER_E2E) tests

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
	$(PY) -m benchmarks.run --size $(SIZE) $(BENCH_ARGS)

package: setup
	$(PY) -m jobs.package

clean:
	rm -rf lake build dist *.egg-info .pytest_cache .ruff_cache
