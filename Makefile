# Meterline: the README names these targets; .ci/run calls `make test`, `make test-slow`, `make test-browser`.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
DBT := $(UV) run --frozen dbt
DBT_DIRS := --project-dir dbt_project --profiles-dir dbt_project
# sqlfluff with its dbt templater, in a uv tool environment of its own (it pins click<8.5, older
# than the project's); dbt-core and dbt-duckdb at the versions of uv.lock
LOCKED = $(shell grep -A1 '^name = "$(1)"$$' uv.lock | sed -n 's/^version = "\(.*\)"/\1/p')
SQLFLUFF = $(UV) tool run --from sqlfluff==4.4.0 --with sqlfluff-templater-dbt==4.4.0 \
	--with dbt-core==$(call LOCKED,dbt-core) --with dbt-duckdb==$(call LOCKED,dbt-duckdb) sqlfluff
METERLINE_HOME ?= $(CURDIR)/data
DAGSTER_HOME ?= $(METERLINE_HOME)/dagster

.PHONY: install demo test test-slow test-spark test-browser docs dev lint format bench clean

## install: uv (bootstrapped with pip when missing), the locked packages, the dbt manifest,
## PostgreSQL's server binaries for the pull tests and a Java runtime for Spark (Debian's
## packages, only when missing)
install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
		echo "warning: no PostgreSQL server binaries (initdb): the pull tests need the postgresql package"
	@# Spark (make test-spark, meterline run --engine spark) runs on a Java 17 runtime
	@command -v java >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } || \
		echo "warning: no java: Spark (make test-spark) needs a Java 17 runtime"
	@# bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set, every command would
	@# otherwise compile ~2,000 modules again (about 12 s of CPU per `meterline` command)
	$(UV) sync --frozen --compile-bytecode
	$(DBT) parse $(DBT_DIRS) --quiet
	@# the browser tests drive Debian's chromium (never `playwright install`, which downloads one)
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

## demo: generate a sample month, run the whole pipeline, issue invoices, print where they are
demo: install
	METERLINE_HOME=$(METERLINE_HOME) DAGSTER_HOME=$(DAGSTER_HOME) $(UV) run --frozen meterline demo

## test: the test suite but the slow end-to-end, Spark and browser tests (CI runs every target)
test: install
	$(UV) run --frozen pytest -q -m "not browser and not slow and not spark"

## test-slow: the long end-to-end tests (crash per step, fuzz, lifecycle, faults, incremental property)
test-slow: install
	$(UV) run --frozen pytest -q -m "slow and not browser and not spark"

## test-spark: a generated month built by dbt on Spark (Java 17) and on DuckDB, every table equal
## (the `spark` extra: dbt-spark + pyspark, not part of the default install)
test-spark: install
	$(UV) sync --frozen --compile-bytecode --extra spark
	$(UV) run --frozen --extra spark pytest -q -m spark

## test-browser: the report opened in Debian chromium by Playwright (screenshot in test-artifacts/)
test-browser: install
	$(UV) run --frozen pytest -q -m browser

## dev: the Dagster UI (webserver + daemon) on this project and METERLINE_HOME
dev: install
	mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || \
		printf 'telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n' > $(DAGSTER_HOME)/dagster.yaml
	METERLINE_HOME=$(METERLINE_HOME) DAGSTER_HOME=$(DAGSTER_HOME) $(UV) run --frozen dagster dev -w workspace.yaml

## bench: throughput, nightly cost, memory and invoicing speed -> BENCHMARKS.md (not part of test)
bench: install
	$(UV) run --frozen python scripts/bench.py

## docs: dbt docs as one static page (no server, no network): $(METERLINE_HOME)/dbt_docs/static_index.html;
## column types come from the build warehouse when `meterline run` has built one
docs: install
	mkdir -p $(METERLINE_HOME)/warehouse
	METERLINE_HOME=$(METERLINE_HOME) $(DBT) docs generate $(DBT_DIRS) --static --target-path $(METERLINE_HOME)/dbt_docs --quiet
	@echo "dbt docs: $(METERLINE_HOME)/dbt_docs/static_index.html"

## lint: ruff (lint + format check) and sqlfluff on the dbt models (rendered by dbt; .sqlfluff)
lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	mkdir -p $(METERLINE_HOME)/warehouse
	METERLINE_HOME=$(METERLINE_HOME) $(SQLFLUFF) lint dbt_project/models

format:
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

clean:
	rm -rf data/raw data/bronze data/warehouse data/published data/invoices data/dagster data/logs
