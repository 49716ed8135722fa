# The two commands a person needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test test-fast test-postgres lint install install-test install-dev system-deps bench clean

# Create or refresh the virtualenv; the stamp file makes reinstalling idempotent and cheap.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# The test extras plus the pinned linters.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/flexhook dev

# What the tests drive besides Python packages: Chromium (the dashboard's browser test) and the
# PostgreSQL server binaries (the PostgreSQL run). Installed from Debian's packages when missing.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
		|| missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing system packages:$$missing (sudo apt-get install$$missing)"; exit 1; \
		fi; \
	fi

test: install-test system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tests alone: no servers, seconds.
test-fast: install-test
	$(BIN)/python -m pytest -m unit -q $(PYTEST_ARGS)

# The integration tests again, on a PostgreSQL server the tests start themselves (not the
# ten-minute soak, which `make test` runs once).
test-postgres: install-test system-deps
	FLEXHOOK_TEST_DATABASE=postgresql $(BIN)/python -m pytest tests/integration -m "not soak" $(PYTEST_ARGS)

# The benchmark (about 10 minutes; not part of the tests). BENCH_ARGS=--quick for a short run.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# ruff (lint and format), mypy strict over the shipped code and the tests, and the layering
# contracts in pyproject.toml (import-linter). Versions are pinned in the `dev` extra.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app workflows activities notifications tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) data .pytest_cache
