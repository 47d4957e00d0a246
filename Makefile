# The two commands: `make run` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Front-end packages (Chart.js, htmx, Tailwind CSS, axe-core), installed exactly as locked.
NPM_STAMP := node_modules/.installed
# The stylesheet Tailwind builds from static/src/app.css and the classes the templates use.
CSS := static/build/app.css
CSS_SOURCES := static/src/app.css $(wildcard templates/*.html templates/*/*.html templates/*/*/*.html \
	*/templates/*/*.html */templates/*/*/*.html */templates/*/*/*/*.html static/js/*.js)

.PHONY: help install assets tesseract run test lint typecheck security pytest migrate bench clean backup restore

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

$(CSS): $(NPM_STAMP) $(CSS_SOURCES)
	npm run --silent build:css

assets: $(CSS)

# Label photos read their printed text with Tesseract OCR (Debian's tesseract-ocr; pytesseract
# calls the program). Installed with apt-get when run as root, else the command to run is printed.
tesseract:
	@command -v tesseract >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq tesseract-ocr >/dev/null; \
	  else \
	    echo "Label photos need Tesseract OCR: sudo apt-get install tesseract-ocr (Debian, Ubuntu)" \
	      "or brew install tesseract (macOS); then run make again."; \
	    exit 1; \
	  fi; }

install: $(STAMP) $(NPM_STAMP) $(CSS) tesseract

run: install
	$(BIN)/python -m config.run_embedded

migrate: install
	$(BIN)/python manage.py migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy .

# Tests keep their embedded files (SQLite, embedded Redis) apart from `make run`'s.
# They run on PYTEST_WORKERS pytest-xdist processes, each on its own test database, Redis
# databases, key prefix and VAR_DIR (config/tests/settings.py); tests marked exclusive (the
# 100-connection concurrency tests) wait for each other across workers. `--dist load` (not
# loadscope/loadgroup, which key tests by node id: schemathesis' cases share one and would run
# once). Line and branch coverage is measured in
# every process, combined, printed, and the run fails under COVERAGE_LINES_MIN % of lines
# (.ci/coverage_lines.py). Figures and how to reproduce them: docs/performance.md, "Test suite".
PYTEST_WORKERS ?= 4
COVERAGE_LINES_MIN ?= 95
pytest: install
	rm -f .coverage .coverage.*
	VAR_DIR=$${VAR_DIR:-$(CURDIR)/var/test} CACHE_KEY_PREFIX=$${CACHE_KEY_PREFIX:-test} \
		$(BIN)/pytest -n $(PYTEST_WORKERS) --dist load \
		--cov --cov-report=term:skip-covered $(PYTEST_ARGS)
	$(BIN)/python .ci/coverage_lines.py $(COVERAGE_LINES_MIN)

# bandit on the code and pip-audit on the dependencies; accepted findings: security/accepted-findings.md.
# pip-audit needs pypi.org: where it cannot be reached the audit is a loud warning, not a failure;
# `SECURITY_AUDIT_OFFLINE=1` skips it without trying.
security: install
	$(BIN)/bandit -c pyproject.toml -r . -q -b security/bandit-baseline.json
	$(BIN)/python security/pip_audit.py

test: lint typecheck security pytest

# PostgreSQL backups of DATABASE_URL (docs/operations.md): pg_dump's custom format to
# BACKUP_FILE or backups/<UTC time>.dump; restore asks first, or takes CONFIRM=yes.
backup: install
	$(BIN)/python manage.py dbbackup $(if $(BACKUP_FILE),--output "$(BACKUP_FILE)")

restore: install
	@test -n "$(BACKUP_FILE)" || { echo "usage: make restore BACKUP_FILE=backups/<time>.dump [CONFIRM=yes]" >&2; exit 2; }
	$(BIN)/python manage.py dbrestore "$(BACKUP_FILE)" $(if $(filter yes,$(CONFIRM)),--yes)

bench: install
	@for script in bench/*.py; do [ -e "$$script" ] && $(BIN)/python "$$script"; done; true

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
