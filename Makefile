# Every target creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
PEER := .venv-peer
PEER_STAMP := $(PEER)/.installed

.PHONY: demo test lint bench clean system-deps ui ui-test ui-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

# the server figures' peer, in an environment of its own (see benchmarks/peer-server.txt)
$(PEER_STAMP): benchmarks/peer-server.txt
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/python -m pip install --quiet --upgrade pip
	$(PEER)/bin/python -m pip install --quiet -r benchmarks/peer-server.txt
	touch $@

# the web UI's bundle (ui/ -> src/orca/server/ui/), built when missing or stale; needs Node.js
ui:
	bash scripts/build-ui.sh

# the demo keeps its project in $(DEMO_DIR) (made afresh each time), for make ui-demo
DEMO_DIR ?= .orca-demo
UI_PORT ?= 8700

demo: $(STAMP) ui
	ORCA_DEMO_DIR=$(abspath $(DEMO_DIR)) $(PY) examples/demo.py

# the web UI over the demo's project (the demo runs first when it has not):
# open http://127.0.0.1:8700/runs; Ctrl-C stops the server
ui-demo: $(STAMP) ui
	[ -f $(DEMO_DIR)/project/.orca/orca.toml ] || ORCA_DEMO_DIR=$(abspath $(DEMO_DIR)) $(PY) examples/demo.py
	@echo "ui-demo: the demo's runs at http://127.0.0.1:$(UI_PORT)/runs (Ctrl-C stops the server)"
	ORCA_HOME=$(abspath $(DEMO_DIR))/home $(VENV)/bin/orca -C $(DEMO_DIR)/project serve \
		--port $(UI_PORT) --workflow $(abspath examples/research.py)

# the UI's component tests (Vitest); npm ci first when ui/node_modules is missing
ui-test: ui
	[ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund --loglevel=error)
	cd ui && npm run --silent test

# packages pip cannot install (bubblewrap, the tools' sandbox; chromium, the browser
# tests' browser): installed when missing and running as root, else named; under
# CI=true a missing one fails
system-deps:
	bash scripts/system-deps.sh

# the Vitest suite, then pytest (tests/ui drives chromium: system-deps installs it)
test: $(STAMP) system-deps ui ui-test
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy
	[ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund --loglevel=error)
	cd ui && npm run --silent typecheck && npm run --silent lint

bench: $(BENCH_STAMP) $(PEER_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(PEER) $(DEMO_DIR) test-artifacts .pytest_cache .mypy_cache .ruff_cache ui/node_modules src/orca/server/ui
