# The project's commands; CI runs `make test` (through .ci/run) and nothing else.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

# Models and data come from installed packages only: nothing is fetched at run time.
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint format services bench bench-diarize bench-orchestration bench-graph chaos clean

# The diarizer's voice encoder weights ship in resemblyzer, which declares torch (a 3 GB
# CUDA install from PyPI) to run them; we run them in numpy, so its dependencies stay out.
$(BIN)/minutes: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'resemblyzer>=0.1.4'
	touch $@

demo: $(BIN)/minutes
	$(BIN)/minutes demo

services:
	scripts/services.sh start

lint: $(BIN)/minutes
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: $(BIN)/minutes services lint
	$(BIN)/pytest

format: $(BIN)/minutes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/minutes
	$(BIN)/python bench/transcribe.py

bench-diarize: $(BIN)/minutes
	$(BIN)/python bench/diarize.py

bench-orchestration: $(BIN)/minutes services
	$(BIN)/python bench/orchestration.py

# Wipes minutes' nodes in the Neo4j at NEO4J_URI (default: the local one, port 7687).
bench-graph: $(BIN)/minutes services
	$(BIN)/python bench/graph.py

# Faults injected into real workers on a PostgreSQL, Redis and Neo4j of its own (free
# loopback ports, a temporary folder): never the shared services, so it starts none of them.
# About 10 minutes; CHAOS_ARGS="--scenario redis --meetings 10" for a smaller run.
chaos: $(BIN)/minutes graphdb/target/graphdb-1.jar
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

graphdb/target/graphdb-1.jar: graphdb/pom.xml $(shell find graphdb/src -type f)
	mvn -q -B -Dstyle.color=never -f graphdb/pom.xml package

clean:
	rm -rf $(VENV) minutes.db minutes.db.migrate.lock
