# AgentLens Collector — the two commands a user needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test lint bench bench-smoke venv deps test-deps clean

# A virtualenv with the package installed; reinstalled when pyproject.toml changes.
$(BIN)/activate:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.deps: $(BIN)/activate pyproject.toml
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-deps: $(VENV)/.deps
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

venv deps: $(VENV)/.deps
test-deps: $(VENV)/.test-deps

run: $(VENV)/.deps
	$(PY) -m collector serve

lint: $(VENV)/.test-deps
	$(BIN)/ruff check collector store tests bench
	$(BIN)/mypy

test: $(VENV)/.test-deps
	bash scripts/ensure_postgres.sh
	$(BIN)/ruff check collector store tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: $(VENV)/.test-deps
	$(PY) -m bench.run

bench-smoke: $(VENV)/.test-deps
	$(PY) -m bench.run --smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
