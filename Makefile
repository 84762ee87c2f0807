# Two commands from a fresh clone: `make dev` runs the stack, `make test` runs every check.
# Both build their own virtual environment in .venv; nothing global is touched.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: dev test lint browser mutation

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Duban needs Python 3.11 or newer (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

dev: $(INSTALLED)
	$(BIN)/duban dev

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint browser
	$(BIN)/pytest

# The browser tests drive Debian's Chromium (Playwright's own download cannot work on a
# closed network). Installed here when missing and possible; otherwise a clear stop.
browser:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "the browser tests need /usr/bin/chromium: run 'sudo apt-get install chromium'"; \
			exit 1; \
		fi; \
	}

# Mutation testing (not part of `make test` or CI: it takes a while on two cores). mutmut
# applies small bugs one at a time and runs the fast tests against each; the score of each
# module is printed at the end, and the target fails below 85 % killed. Results are kept in
# mutants/; after adding tests, MUTATION_ARGS=--only-open retries only the mutants still alive
# (--survivors lists them, --report only prints). Other modules: MUTATION_MODULES="domain.units".
MUTATION_MODULES ?= domain.lifecycle domain.alarms domain.deadlines activities.task_events
MUTATION_JOBS ?= 2
MUTATION_ARGS ?=
mutation: $(INSTALLED)
	$(BIN)/python -m scripts.mutation --jobs $(MUTATION_JOBS) $(MUTATION_ARGS) $(MUTATION_MODULES)
