# Two commands do all the set-up on a fresh Debian/Ubuntu machine:
#   make run    system packages, venv, install, start the app
#   make test   system packages, venv, install, lint, the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run headless test test-fast lint bench deps clean

deps:
	@bash packaging/system-deps.sh

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

run: deps $(STAMP)
	$(BIN)/engram run

headless: deps $(STAMP)
	$(BIN)/engram run --headless

lint: $(STAMP)
	$(BIN)/ruff check desktop tests bench
	$(BIN)/lint-imports pyproject.toml

test: deps $(STAMP) lint
	OMP_THREAD_LIMIT=1 $(BIN)/pytest -q -p no:cacheprovider --durations=15

test-fast: $(STAMP)
	$(BIN)/pytest -q -x -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/search.py

clean:
	rm -rf $(VENV) build dist *.egg-info
