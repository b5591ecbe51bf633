# The two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WORKBENCH_DEMO_PASSWORD ?= workbench-demo
export WORKBENCH_DEMO_PASSWORD
LOCAL_ENV := DEBUG=1 PORT=$(PORT)
ENV_FILE ?= .env

.PHONY: install run test fuzz lint browser bench loadtest clean

# Idempotent: the venv is made once with a Python >= 3.12 found on PATH, and the
# project is reinstalled only when pyproject.toml changed; .env is written once.
install: $(VENV)/.installed $(ENV_FILE)

# The local settings file (git-ignored): DEBUG on and a generated SECRET_KEY, so
# `python manage.py ...` works as the README prints it. Written only when missing,
# never overwritten; variables set in the environment win over it.
$(ENV_FILE):
	@umask 077; key=$$(head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_') && \
	printf '%s\n' \
		'# Local settings written by `make install` (git-ignored). Not for production.' \
		'# Variables set in the environment win over these.' \
		'DEBUG=1' "SECRET_KEY=$$key" > $@.partial && mv $@.partial $@
	@echo "Wrote $@ (DEBUG=1 and a generated SECRET_KEY) for local runs"

$(VENV)/.installed: pyproject.toml
	@if [ ! -x $(PY) ]; then \
		python=$$(scripts/find-python.sh) || exit 1; \
		echo "Creating $(VENV) with $$python"; \
		"$$python" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

run: install
	$(LOCAL_ENV) $(PY) manage.py migrate --noinput
	$(LOCAL_ENV) $(PY) manage.py setup_demo
	$(LOCAL_ENV) $(PY) manage.py import_articles seeds/ --quiet
	$(LOCAL_ENV) $(PY) manage.py refresh_export_cells
	@echo ""
	@echo "  Claim & Stance Workbench on http://127.0.0.1:$(PORT)/"
	@echo "  Demo accounts: admin (superuser), annotator1, annotator2, reviewer"
	@echo "  Password: $(WORKBENCH_DEMO_PASSWORD)   (set WORKBENCH_DEMO_PASSWORD to change it)"
	@echo "  Background jobs (imports uploaded in the admin): a worker runs beside the"
	@echo "  server (manage.py worker); it stops with the server (Ctrl-C)."
	@echo ""
	@$(LOCAL_ENV) $(PY) manage.py worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(LOCAL_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Debian's Chromium for the browser tests; installed when missing (needs root).
browser:
	@scripts/ensure-chromium.sh

# Lint and format: the same checks `make test` starts with.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install browser lint
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	DEBUG=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

# The Hypothesis tests (pytest marks them "hypothesis") with the "fuzz" profile of
# tests/conftest.py: random examples, 10x the derandomized budget of `make test`.
# Pin a failure it finds with @example(...). E.g. PYTEST_ARGS="tests/test_import_fuzz.py".
fuzz: install
	HYPOTHESIS_PROFILE=fuzz DEBUG=1 $(VENV)/bin/pytest -m hypothesis $(PYTEST_ARGS)

# Production settings (DEBUG off, collected static files) on the configured database;
# BENCH_ARGS e.g. "--articles 200 --json artifacts/bench.json". See docs/performance.md.
bench: install
	@export DEBUG=0 SECRET_KEY="$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}"; \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	$(PY) manage.py bench $(BENCH_ARGS)

loadtest: install
	scripts/loadtest.sh

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles artifacts .pytest_cache .hypothesis
