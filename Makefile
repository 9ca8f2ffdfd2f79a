# Two commands do all the set-up on a fresh Debian/Ubuntu machine:
#   make run    system packages, venv, install, start the app
#   make test   system packages, venv, install, lint, the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run headless test test-slow lint bench deps clean

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
	OMP_THREAD_LIMIT=1 $(BIN)/pytest -q -p no:cacheprovider --durations=15 -m "not slow"

# the long trials: 30 kill -9 crash trials and the PyInstaller build smoke test (CI runs both)
test-slow: deps $(STAMP)
	$(BIN)/pip install -q -e ".[dev,package]"
	OMP_THREAD_LIMIT=1 $(BIN)/pytest -q -p no:cacheprovider --durations=5 -m slow

bench: $(STAMP)
	$(BIN)/python bench/search.py

clean:
	rm -rf $(VENV) build dist *.egg-info
