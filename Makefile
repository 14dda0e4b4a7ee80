# Two commands matter: `make run` starts the app, `make test` runs every check. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "meshchat needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@$(BIN)/python -c 'import libnacl' 2>/dev/null || { \
		echo "libsodium is missing: 'sudo apt-get install libsodium23' (Debian/Ubuntu) or 'brew install libsodium' (macOS)"; \
		exit 1; }
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/meshchat $(ARGS)

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check meshchat tui tests bench
	$(BIN)/ruff format --check meshchat tui tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/ingest.py --n 100000
	$(BIN)/python bench/sync.py --n 100000
	$(BIN)/python bench/tui_open.py --n 100000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
