# Two commands for a newcomer: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 is required (local-bigquery needs it; Cloud Functions runs python313).
# Look on PATH first, then in pyenv's versions, so no PYENV_VERSION is needed.
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The FOCUS validator lives in its own venv: its pins (old numpy, pandas) must not touch the service's.
FOCUS_VALIDATOR := .tools/focus-validator
FOCUS_VALIDATOR_STAMP := $(FOCUS_VALIDATOR)/.installed
# Azurite (Microsoft's storage emulator, from the npm registry): the Azure cost exports' local Blob Storage.
AZURITE := .tools/azurite
AZURITE_VERSION := 3.37.0
AZURITE_STAMP := $(AZURITE)/.installed-$(AZURITE_VERSION)

CODE := shared devstack functions tests benchmarks
FAST_TESTS := tests/unit tests/golden tests/providers
# Two workers, each taking whole files, and the provider suite a provider's case at a time (tests/conftest.py's
# scheduler; module fixtures stay per file; each worker starts its own local stack when its first stack test needs
# one): the stack tier waits on emulators much of the time, so two share two cores well.
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadfile
# Schemathesis gives every API operation of the fuzz the same test id, and xdist keeps one test per id: that file
# runs in a session of its own, after the others.
SERIAL_TESTS := tests/e2e/test_openapi_fuzz.py
STACK_TESTS := tests/integration tests/e2e

.PHONY: help setup up demo test check lint fmt package clean

help:
	@echo "make demo   set up, start the local stack, run the pipelines for a week and a scheduled day, print the result"
	@echo "make test   set up, lint and run every test (the fast tier, then the stack tier)"
	@echo "make check  set up, lint and run the fast tier only: unit, golden and the provider suite (no stack)"
	@echo "make up     start the local stack in the foreground (Ctrl-C stops it)"
	@echo "make package  build each function's deploy package into build/functions"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.13 not found (install it, e.g. 'pyenv install 3.13', or pass PYTHON=/path/to/python3.13)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(FOCUS_VALIDATOR_STAMP): tests/tools/focus-validator.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.13 not found"; exit 1; }
	$(PYTHON) -m venv $(FOCUS_VALIDATOR)
	$(FOCUS_VALIDATOR)/bin/pip install --quiet --no-deps -r tests/tools/focus-validator.txt
	@touch $@

$(AZURITE_STAMP):
	@command -v npm >/dev/null || { echo "error: npm not found (Azurite needs Node.js 18+ and npm)"; exit 1; }
	npm install --prefix $(AZURITE) --no-audit --no-fund --silent --save-exact azurite@$(AZURITE_VERSION)
	@touch $@

setup: $(STAMP) $(AZURITE_STAMP)

up: setup
	$(BIN)/dps up

demo: setup
	$(BIN)/dps demo

test: lint $(FOCUS_VALIDATOR_STAMP)
	$(PYTEST) $(FAST_TESTS) $(STACK_TESTS) --ignore=$(SERIAL_TESTS)
	$(BIN)/python -m pytest -q $(SERIAL_TESTS)

# `make check` stays under a minute: it leaves to `make test` the FOCUS validator over the suite's golden rows (one
# validator process, ~19 s) and the suite's re-run checks (a second and a forced run of every case, ~27 s). It fuzzes
# nothing, so without Schemathesis's and Hypothesis's plugins each process starts ~2 s sooner.
CHECK_LEAVES := --ignore=tests/providers/test_focus_validator.py -k "not test_a_rerun_changes_nothing"
check: lint
	$(PYTEST) -p no:schemathesis -p no:hypothesispytest $(CHECK_LEAVES) $(FAST_TESTS)

lint: setup
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check --quiet $(CODE)
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive terraform; \
	else echo "terraform not installed: terraform fmt skipped (Cloud Build runs it in its own step)"; fi

package: setup
	$(BIN)/python -m devstack.packaging build/functions

fmt: setup
	$(BIN)/ruff format $(CODE)

clean:
	rm -rf $(VENV) .local .pytest_cache
