# The two commands a person needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test test-postgres lint install install-test system-deps bench clean

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

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

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

# The integration tests again, on a PostgreSQL server the tests start themselves.
test-postgres: install-test system-deps
	FLEXHOOK_TEST_DATABASE=postgresql $(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

# The benchmark (about 10 minutes; not part of the tests). BENCH_ARGS=--quick for a short run.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install-test
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check . && $(BIN)/mypy app workflows activities

clean:
	rm -rf $(VENV) data .pytest_cache
