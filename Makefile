# Every target sets up .venv itself on a fresh machine (Python >= 3.11 as python3).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "bprop needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The core alone: what the demo needs.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Everything the tests exercise: every optional extra, so no test is skipped.
$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[all,test]'
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/bprop demo

# The layer contract (import-linter, see pyproject.toml), ruff, then the suite.
test: $(VENV)/.all
	$(BIN)/lint-imports
	$(BIN)/ruff check -q src tests bench
	$(BIN)/python -m pytest -n 2 -q

lint: $(VENV)/.all
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Benchmarks need PyTorch (the CPU build already on the machine): never a library dependency.
bench: $(VENV)/.all
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
