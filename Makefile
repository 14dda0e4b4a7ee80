# Two commands matter: `make run` starts the app, `make test` runs every check. Both create .venv if missing.
# `make run` installs the app alone (what a field laptop or a Raspberry Pi needs); `make test` adds the test
# tools. Both check first, with the system's Python, that this machine can run meshchat at all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP := $(VENV)/.app-installed
TOOLS := $(VENV)/.test-tools-installed

.PHONY: run test lint typecheck unit bench clean

$(APP): pyproject.toml
	@$(PYTHON) scripts/preflight.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(APP)

$(TOOLS): $(APP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TOOLS)

run: $(APP)
	$(BIN)/meshchat $(ARGS)

test: lint typecheck unit

lint: $(TOOLS)
	$(BIN)/ruff check meshchat tui tests bench scripts
	$(BIN)/ruff format --check meshchat tui tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/vulture

typecheck: $(TOOLS)
	$(BIN)/mypy

unit: $(TOOLS)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(TOOLS)
	$(BIN)/python bench/ingest.py --n 100000
	$(BIN)/python bench/sync.py --n 100000
	$(BIN)/python bench/tui_open.py --n 100000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
