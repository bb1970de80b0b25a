# Two commands matter: `make run` (the demo on SQLite with simulated readers) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT ?= 8000
# PostgreSQL for the second test pass; CI has one on 127.0.0.1:5432 with trust auth.
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres browser lint bench bench-pdf clean

# pip -qq prints errors only: its warnings (about a package index a machine's own pip
# configuration names, for one) ran to about 100 lines before the demo's links. The same
# packages are installed; a failed install still stops here with pip's error.
PIP_INSTALL := $(BIN)/python -m pip install -qq --disable-pip-version-check
$(INSTALLED): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e '.[test]'
	touch $@

# The web app (gunicorn) and the Staff room kiosk's agent on simulated readers and locks;
# Ctrl-C stops both. seed-demo re-issues the kiosk token each time and hands it to the agent.
# The product starts in production unless asked: `make run` asks for the demo, which listens
# on loopback only; `make run HOST=0.0.0.0 TRUSTED_HOSTS=NAME` (or KIOSK_HOST=...) opens it to
# the network, for the names in TRUSTED_HOSTS. A HOST in the environment is not used.
AGENT_TOKEN := instance/staff-room-kiosk.token
HOST := $(or $(KIOSK_HOST),127.0.0.1)
LINK_HOST = $(if $(filter 0.0.0.0 127.0.0.1,$(HOST)),localhost,$(HOST))
run: export KIOSK_ENV := demo
run: $(INSTALLED)
	$(BIN)/flask --app kiosk init-db
	$(BIN)/flask --app kiosk seed-demo --base-url http://$(LINK_HOST):$(PORT) --token-file $(AGENT_TOKEN)
	$(BIN)/python scripts/run-demo --host $(HOST) --port $(PORT) --token-file $(AGENT_TOKEN)

# Debian packages for the tests: Chromium drives the browser tests (Playwright's own download
# cannot run here), poppler-utils renders PDFs to images, and the fonts the PDFs embed.
browser:
	@./scripts/install-system-deps

test: $(INSTALLED) browser lint test-sqlite test-postgres

# ruff, then mypy: register/ and hardware/ strictly, kiosk/ with check_untyped_defs (setup.cfg).
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy register hardware kiosk

test-sqlite: $(INSTALLED)
	$(BIN)/pytest -n auto

test-postgres: $(INSTALLED)
	@if $(BIN)/python scripts/postgres-reachable "$(PG_TEST_URL)"; then \
		TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -n auto; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is not reachable: CI must test on it." >&2; exit 1; \
	else \
		echo "Skipping the PostgreSQL pass: nothing answers at $(PG_TEST_URL)."; \
	fi

# The scan round trip at 1, 8 and 16 kiosks against a bare durable insert, on SQLite and (when
# it answers) PostgreSQL, on bench/big_school.py's school; then the register page and PDF if
# bench/register_print.py is there. A few minutes. Options: make bench BENCH_ARGS="--help".
bench: $(INSTALLED)
	@status=0; \
	if $(BIN)/python scripts/postgres-reachable "$(PG_TEST_URL)"; then \
		$(BIN)/python -m bench --postgres "$(PG_TEST_URL)" $(BENCH_ARGS) || status=$$?; \
	else \
		echo "PostgreSQL at $(PG_TEST_URL) is not reachable: the scan bench runs on SQLite only."; \
		$(BIN)/python -m bench $(BENCH_ARGS) || status=$$?; \
	fi; \
	if [ -f bench/register_print.py ]; then \
		$(BIN)/python -m bench.register_print || status=$$?; \
	fi; \
	exit $$status

# ReportLab against WeasyPrint (the bench extra; WeasyPrint needs Debian's libpango-1.0-0).
bench-pdf: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.pdf

clean:
	rm -rf $(VENV) instance test-artifacts *.egg-info
