# The two commands: `make run` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Front-end packages (Chart.js), installed exactly as locked.
NPM_STAMP := node_modules/.installed

.PHONY: help install run test lint typecheck pytest migrate bench clean

help:
	@echo "make run    set up and run the whole platform on its embedded default"
	@echo "make test   set up and run lint, type checks and the whole test suite"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

install: $(STAMP) $(NPM_STAMP)

run: install
	$(BIN)/python -m config.run_embedded

migrate: install
	$(BIN)/python manage.py migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

# Tests keep their embedded files (SQLite, embedded Redis) apart from `make run`'s.
pytest: install
	VAR_DIR=$${VAR_DIR:-$(CURDIR)/var/test} CACHE_KEY_PREFIX=$${CACHE_KEY_PREFIX:-test} \
		$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	@for script in bench/*.py; do [ -e "$$script" ] && $(BIN)/python "$$script"; done; true

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .mypy_cache .ruff_cache
