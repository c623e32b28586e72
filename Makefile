# Two entry points (see README): `make demo` and `make test`.
# Each creates its own virtualenv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit integration notebooks bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/confluence-agent demo

test: $(STAMP) lint typecheck
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check confluence_agent workflows tests benchmarks

# mypy cannot follow setuptools' package-dir mapping (workflows/ is installed as
# confluence_agent.workflows), so it checks a staged copy laid out like the wheel.
# Each run stages into its own temporary folder, so concurrent runs cannot collide.
typecheck: $(STAMP)
	@stage=$$(mktemp -d) && trap 'rm -rf "$$stage"' EXIT && \
	cp -r confluence_agent "$$stage/confluence_agent" && \
	cp -r workflows "$$stage/confluence_agent/workflows" && \
	cd "$$stage" && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
		--cache-dir $(CURDIR)/.mypy_cache confluence_agent

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit_tests

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration_tests

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
