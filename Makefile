# The README's two commands: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test setup postgres lint typecheck contracts unit bench vectors clean

demo: setup
	$(BIN)/inperson demo

test: setup postgres lint typecheck contracts unit

setup: $(STAMP) /usr/sbin/mosquitto

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

/usr/sbin/mosquitto:
	@command -v mosquitto >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends mosquitto; }
	@# the Debian package starts a system broker on 1883; inperson runs its own on a free port
	@-$(SUDO) systemctl disable --now mosquitto >/dev/null 2>&1 || true

# the server tests run against SQLite and a real PostgreSQL they start themselves
postgres:
	@bash .ci/postgres.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

contracts: setup
	$(BIN)/lint-imports

unit: setup postgres
	$(BIN)/pytest

vectors: setup
	$(BIN)/inperson protocol-vectors docs/protocol-vectors.json

lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-out
