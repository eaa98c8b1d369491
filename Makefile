# haochaping — every target does its own set-up (virtualenv, dependencies, Kafka).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# Tests use their own broker port and state, so a running `make up` is left alone.
TEST_KAFKA_PORT ?= 19092

.PHONY: setup browser demo test lint up down status clean bench bench-smoke bench-queries

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(INSTALLED) browser
	@infra/kafka/kafka.sh fetch

# Debian's chromium (and CJK fonts for readable screenshots) for the dashboard's browser test.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium and fonts-noto-cjk from Debian (for the dashboard browser test)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

demo: setup
	infra/kafka/with-broker.sh $(BIN)/hcp demo

test: setup lint
	HCP_KAFKA_PORT=$(TEST_KAFKA_PORT) infra/kafka/with-broker.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy haochaping streams sinks producers cli

# Benchmarks start their own broker (kafka.sh fetches Kafka itself); see docs/benchmarks.md.
bench: $(INSTALLED)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-smoke: $(INSTALLED)
	$(BIN)/python bench/run.py --smoke

# The analysts' named queries on 10 million generated ratings (~40 min, ~6 GB in a temp dir; no broker).
# BENCH_QUERIES_ARGS=--smoke proves it runs in a minute; see docs/benchmarks.md.
bench-queries: $(INSTALLED)
	nice -n 19 $(BIN)/python bench/analyst_queries.py $(BENCH_QUERIES_ARGS)

# A long-running local pipeline: broker + worker in the background.
up: setup
	@infra/kafka/kafka.sh start
	@mkdir -p data
	@if [ -f data/worker.pid ] && kill -0 $$(cat data/worker.pid) 2>/dev/null; then \
	  echo "worker already running (pid $$(cat data/worker.pid))"; \
	else \
	  nohup $(BIN)/hcp worker > data/worker.log 2>&1 & echo $$! > data/worker.pid; \
	  echo "worker started (pid $$(cat data/worker.pid), log data/worker.log)"; \
	fi

down:
	@if [ -f data/worker.pid ] && kill -0 $$(cat data/worker.pid) 2>/dev/null; then \
	  kill $$(cat data/worker.pid); \
	  while kill -0 $$(cat data/worker.pid) 2>/dev/null; do sleep 0.5; done; \
	  echo "worker stopped"; \
	fi
	@rm -f data/worker.pid
	@infra/kafka/kafka.sh stop

status:
	@infra/kafka/kafka.sh status || true
	@if [ -f data/worker.pid ] && kill -0 $$(cat data/worker.pid) 2>/dev/null; then echo "worker running (pid $$(cat data/worker.pid))"; else echo "worker stopped"; fi

clean: down
	rm -rf data
