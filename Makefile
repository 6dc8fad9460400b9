# Every target creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
PEER := .venv-peer
PEER_STAMP := $(PEER)/.installed

.PHONY: demo test lint bench clean system-deps ui

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

demo: $(STAMP) ui
	$(PY) examples/demo.py

# packages pip cannot install (bubblewrap, the tools' sandbox): installed when missing
# and running as root, else named; under CI=true a missing one fails
system-deps:
	bash scripts/system-deps.sh

test: $(STAMP) system-deps ui
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
	rm -rf $(VENV) $(PEER) .pytest_cache .mypy_cache .ruff_cache ui/node_modules src/orca/server/ui
